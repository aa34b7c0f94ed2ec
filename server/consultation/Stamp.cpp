#include "consultation/Stamp.h"

#include "protocol/Messages.h"

#include <QVarLengthArray>

namespace medrelay::server {

QByteArray senderFields(const Identity &sender, const QString &connectionId, qint64 nowMs)
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
    out.append(",\"timestamp\":");
    out.append(QByteArray::number(nowMs));
    return out;
}

QByteArray stampRelayed(const protocol::JsonObjectView &json, const Identity &sender, const QString &connectionId,
                        qint64 nowMs, std::initializer_list<QLatin1StringView> alsoDrop, QByteArrayView extraMembers)
{
    QByteArray extra;
    extra.reserve(extraMembers.size() + 200);
    if (!extraMembers.isEmpty()) {
        extra.append(extraMembers);
        extra.append(',');
    }
    extra.append(senderFields(sender, connectionId, nowMs));
    if (alsoDrop.size() == 0)
        return json.rewritten(std::begin(kServerOwnedFields), std::end(kServerOwnedFields), extra);
    // Rare (joins and leaves): build the combined list.
    QVarLengthArray<QLatin1StringView, 16> drop(std::begin(kServerOwnedFields), std::end(kServerOwnedFields));
    for (const QLatin1StringView d : alsoDrop)
        drop.append(d);
    return json.rewritten(drop.cbegin(), drop.cend(), extra);
}

QByteArray withSeq(const QByteArray &body, qint64 seq)
{
    QByteArray out;
    out.reserve(body.size() + 24);
    out.append(QByteArrayView(body).chopped(1));
    out.append(body.size() > 2 ? ",\"seq\":" : "\"seq\":");
    out.append(QByteArray::number(seq));
    out.append('}');
    return out;
}

} // namespace medrelay::server
