#include "consultation/Stamp.h"

#include "protocol/Messages.h"

#include <QVarLengthArray>

#include <charconv>

namespace medrelay::server {

QByteArray senderFields(const Identity &sender, const QString &connectionId)
{
    QByteArray out;
    out.reserve(160 + sender.userName.size());
    out.append("\"from\":");
    protocol::appendJsonString(out, sender.userId);
    out.append(",\"fromConnectionId\":");
    protocol::appendJsonString(out, connectionId);
    out.append(",\"connectionId\":");
    protocol::appendJsonString(out, connectionId);
    if (sender.isSet()) {
        out.append(",\"userId\":");
        protocol::appendUserId(out, sender.userId);
        out.append(",\"userName\":");
        protocol::appendJsonString(out, sender.userName);
    }
    if (!sender.role.isEmpty()) {
        out.append(",\"role\":");
        protocol::appendJsonString(out, sender.role);
    }
    return out;
}

QByteArray stampRelayed(const protocol::JsonObjectView &json, const QByteArray &senderFields, qint64 nowMs,
                        std::initializer_list<QLatin1StringView> alsoDrop, QByteArrayView extraMembers)
{
    char time[40] = ",\"timestamp\":";
    constexpr qsizetype prefix = 13;
    const auto end = std::to_chars(time + prefix, time + sizeof(time), nowMs).ptr;
    const QByteArrayView timestamp(time, end - time);
    const QByteArrayView comma(",", extraMembers.isEmpty() ? 0 : 1);
    const QByteArrayView chunks[] = {extraMembers, comma, senderFields, timestamp};
    if (alsoDrop.size() == 0)
        return json.rewritten(std::begin(kServerOwnedFields), std::end(kServerOwnedFields), std::begin(chunks),
                              std::end(chunks));
    // Rare (joins, leaves, stored kinds): build the combined list.
    QVarLengthArray<QLatin1StringView, 16> drop(std::begin(kServerOwnedFields), std::end(kServerOwnedFields));
    for (const QLatin1StringView d : alsoDrop)
        drop.append(d);
    return json.rewritten(drop.cbegin(), drop.cend(), std::begin(chunks), std::end(chunks));
}

QByteArray withSeq(const QByteArray &body, qint64 seq)
{
    char number[24];
    const auto end = std::to_chars(number, number + sizeof(number), seq).ptr;
    const qsizetype digits = end - number;
    const bool empty = body.size() <= 2;
    QByteArray out(body.size() + (empty ? 6 : 7) + digits, Qt::Uninitialized);
    char *w = out.data();
    std::memcpy(w, body.constData(), size_t(body.size() - 1));
    w += body.size() - 1;
    const char *key = empty ? "\"seq\":" : ",\"seq\":";
    const size_t keyLength = empty ? 6 : 7;
    std::memcpy(w, key, keyLength);
    w += keyLength;
    std::memcpy(w, number, size_t(digits));
    w += digits;
    *w = '}';
    return out;
}

} // namespace medrelay::server
