#pragma once
// The relayed text of a client message: the sender's bytes, byte for byte,
// with the fields the server owns cut out and set again from the sender's
// identity and the server clock, whatever the client wrote.

#include "model/Identity.h"
#include "protocol/JsonScanner.h"

#include <QByteArray>
#include <QString>

namespace medrelay::server {

// The fields the server owns in every relayed message. Stored kinds (chat,
// whiteboard) also own `seq`; signalling keeps a client's seq, as the
// original relayed it.
inline constexpr QLatin1StringView kServerOwnedFields[] = {
    QLatin1StringView("from"),     QLatin1StringView("fromConnectionId"), QLatin1StringView("connectionId"),
    QLatin1StringView("userId"),   QLatin1StringView("userName"),         QLatin1StringView("role"),
    QLatin1StringView("timestamp"),
};

// The sender's server-owned fields but the timestamp, encoded as
// "k":v,... (no braces): made once per member, used for every message.
[[nodiscard]] QByteArray senderFields(const Identity &sender, const QString &connectionId);

// The relayed text: `json` without the server-owned fields (and without
// `alsoDrop`), then `extraMembers` (encoded "k":v,...; may be empty), then
// the sender's fields (from senderFields()) and the timestamp.
[[nodiscard]] QByteArray stampRelayed(const protocol::JsonObjectView &json, const QByteArray &senderFields,
                                      qint64 nowMs, std::initializer_list<QLatin1StringView> alsoDrop = {},
                                      QByteArrayView extraMembers = {});

// A stored message's text with its seq: the object's last member.
[[nodiscard]] QByteArray withSeq(const QByteArray &body, qint64 seq);

} // namespace medrelay::server
