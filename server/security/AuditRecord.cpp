#include "security/AuditRecord.h"

#include "security/ConstantTime.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QMessageAuthenticationCode>

#include <array>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxDetail = 200;
constexpr qsizetype kMaxId = 140;

// Every key a record has, in the (sorted) order the compact writer emits;
// keyed records have `kid` as well.
constexpr std::array kKeys = {"actor"_L1, "address"_L1, "appointmentId"_L1, "connectionId"_L1,
                              "detail"_L1, "event"_L1, "hash"_L1, "prev"_L1,
                              "role"_L1, "roomId"_L1, "seq"_L1, "ts"_L1};

QJsonValue textOrNull(QString s, qsizetype maxChars)
{
    if (s.isEmpty())
        return QJsonValue::Null;
    s.truncate(maxChars);
    for (QChar &c : s) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            c = u'?';
    }
    return s;
}

QJsonValue detailOrNull(const QString &detail)
{
    if (detail.isEmpty())
        return QJsonValue::Null;
    QString s = detail.left(kMaxDetail);
    for (QChar &c : s) {
        const char16_t u = c.unicode();
        const bool allowed = (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9')
            || u == u' ' || u == u'_' || u == u'.' || u == u':' || u == u'=' || u == u',' || u == u'/'
            || u == u'-';
        if (!allowed)
            c = u'?';
    }
    return s;
}

bool isLowerHex(QStringView s, qsizetype size)
{
    if (s.size() != size)
        return false;
    for (const QChar c : s) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f')))
            return false;
    }
    return true;
}

QByteArray canonical(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

QLatin1StringView auditEventName(AuditEvent event)
{
    switch (event) {
    case AuditEvent::Connect: return "connect"_L1;
    case AuditEvent::Disconnect: return "disconnect"_L1;
    case AuditEvent::Join: return "join"_L1;
    case AuditEvent::Leave: return "leave"_L1;
    case AuditEvent::JoinDenied: return "join_denied"_L1;
    case AuditEvent::AuthFailed: return "auth_failed"_L1;
    case AuditEvent::AdminAction: return "admin_action"_L1;
    case AuditEvent::RoomClosed: return "room_closed"_L1;
    case AuditEvent::AdminRefused: return "admin_refused"_L1;
    case AuditEvent::RecordsDropped: return "records_dropped"_L1;
    case AuditEvent::FilesDeleted: return "files_deleted"_L1;
    case AuditEvent::Waiting: return "waiting"_L1;
    case AuditEvent::Admission: return "admission"_L1;
    case AuditEvent::RoomSettings: return "room_settings"_L1;
    case AuditEvent::ConsultationEnded: return "consultation_ended"_L1;
    }
    return "unknown"_L1;
}

std::optional<AuditEvent> auditEventFromName(QStringView name)
{
    for (int i = 0; i <= int(AuditEvent::Last); ++i) {
        const auto e = AuditEvent(i);
        if (name == auditEventName(e))
            return e;
    }
    return std::nullopt;
}

AuditKey AuditKey::fromSecret(const QByteArray &secret)
{
    AuditKey k;
    k.secret = secret;
    k.id = QCryptographicHash::hash("medrelay audit key id\n" + secret, QCryptographicHash::Sha256).toHex().left(16);
    return k;
}

namespace AuditRecord {

QByteArray lineHash(QByteArrayView line)
{
    return QCryptographicHash::hash(line, QCryptographicHash::Sha256).toHex();
}

QByteArray hmacHex(const QByteArray &secret, QByteArrayView data)
{
    return QMessageAuthenticationCode::hash(data.toByteArray(), secret, QCryptographicHash::Sha256).toHex();
}

QByteArray build(const AuditEntry &entry, quint64 seq, const QByteArray &prev, const QString &ts, const AuditKey *key)
{
    QJsonObject rec;
    rec.insert("seq"_L1, qint64(seq));
    rec.insert("ts"_L1, ts);
    rec.insert("event"_L1, auditEventName(entry.event));
    rec.insert("actor"_L1, textOrNull(entry.actor.isEmpty() ? u"system"_s : entry.actor, kMaxId));
    rec.insert("role"_L1, textOrNull(entry.role, 32));
    rec.insert("connectionId"_L1, textOrNull(entry.connectionId, 64));
    rec.insert("address"_L1, textOrNull(entry.address, 64));
    rec.insert("roomId"_L1, textOrNull(entry.roomId, kMaxId));
    rec.insert("appointmentId"_L1,
               entry.appointmentId ? QJsonValue(*entry.appointmentId) : QJsonValue(QJsonValue::Null));
    rec.insert("detail"_L1, detailOrNull(entry.detail));
    rec.insert("prev"_L1, QString::fromLatin1(prev));
    if (key)
        rec.insert("kid"_L1, QString::fromLatin1(key->id));
    const QByteArray unsignedBytes = canonical(rec);
    rec.insert("hash"_L1, QString::fromLatin1(key ? hmacHex(key->secret, unsignedBytes) : lineHash(unsignedBytes)));
    return canonical(rec);
}

Checked check(const QByteArray &line, const AuditKeyRing *keys)
{
    Checked r;
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        r.reason = u"not a JSON object"_s;
        return r;
    }
    QJsonObject obj = doc.object();
    const bool keyed = obj.contains("kid"_L1);
    if (obj.size() != qsizetype(kKeys.size()) + (keyed ? 1 : 0)) {
        r.reason = u"unexpected set of fields"_s;
        return r;
    }
    for (const auto key : kKeys) {
        if (!obj.contains(key)) {
            r.reason = u"missing field '%1'"_s.arg(key);
            return r;
        }
    }
    const QJsonValue seq = obj.value("seq"_L1);
    if (!seq.isDouble() || seq.toInteger(-1) < 1) {
        r.reason = u"invalid seq"_s;
        return r;
    }
    r.event = obj.value("event"_L1).toString();
    if (!auditEventFromName(r.event)) {
        r.reason = u"unknown event"_s;
        return r;
    }
    r.ts = obj.value("ts"_L1).toString();
    if (!QDateTime::fromString(r.ts, Qt::ISODateWithMs).isValid()) {
        r.reason = u"invalid ts"_s;
        return r;
    }
    const QString hash = obj.value("hash"_L1).toString();
    const QString prev = obj.value("prev"_L1).toString();
    if (!isLowerHex(hash, 64) || !isLowerHex(prev, 64)) {
        r.reason = u"invalid hash or prev"_s;
        return r;
    }
    const QString kid = obj.value("kid"_L1).toString();
    if (keyed && !isLowerHex(kid, 16)) {
        r.reason = u"invalid kid"_s;
        return r;
    }
    if (canonical(obj) != line) {
        r.reason = u"not in canonical form (edited by hand?)"_s;
        return r;
    }
    r.seq = seq.toInteger();
    r.prev = prev.toLatin1();
    r.kid = kid.toLatin1();
    r.detail = obj.value("detail"_L1).toString();
    obj.remove("hash"_L1);
    const QByteArray unsignedBytes = canonical(obj);
    if (!keyed) {
        if (lineHash(unsignedBytes) != hash.toLatin1()) {
            r.reason = u"hash does not match the record's content"_s;
            return r;
        }
    } else if (keys) {
        const auto secret = keys->constFind(r.kid);
        if (secret == keys->cend()) {
            r.keyMissing = true;
            r.reason = u"signed with key %1, which was not given"_s.arg(kid);
            return r;
        }
        if (!constantTimeEquals(hmacHex(*secret, unsignedBytes), hash.toLatin1())) {
            r.reason = u"HMAC does not match the record's content (edited, or another key)"_s;
            return r;
        }
        r.macChecked = true;
    }
    r.ok = true;
    return r;
}

} // namespace AuditRecord

} // namespace medrelay::security
