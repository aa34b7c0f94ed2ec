#pragma once
// One audit record: what it may contain, how it is written as one line of
// canonical JSON, and how a stored line is checked on its own (shape,
// canonical form, its own hash or HMAC). The writer (AuditLog) and the
// verifier (AuditVerifier) share this, so they cannot disagree on the format.
//
// Two forms, told apart by the `kid` member:
// - unkeyed (logs written before keys existed): `hash` is SHA-256 of the line
//   without its `hash` member;
// - keyed: `kid` names the key, and `hash` is HMAC-SHA256 with that key over
//   the same bytes (kid included).
// In both, `prev` is SHA-256 of the previous line's bytes (64 zeros for the
// first record of a chain), so the chain links across files and forms.

#include <QByteArray>
#include <QHash>
#include <QLatin1StringView>
#include <QString>

#include <optional>

namespace medrelay::security {

enum class AuditEvent : quint8 {
    Connect,
    Disconnect,
    Join,
    Leave,
    JoinDenied,
    AuthFailed,
    AdminAction,
    RoomClosed,
    AdminRefused,   // refused admin requests from one address, counted over a window
    RecordsDropped, // records the writer had to drop (backlog full), written where they were lost
    FilesDeleted,   // a rotated file removed by the retention policy
    Waiting,           // a guest waits in a room's waiting room
    Admission,         // a host admitted or denied a waiting guest (or it stopped waiting)
    RoomSettings,      // a host turned the waiting room or the lock on or off
    ConsultationEnded, // a host, an administrator or the time limit ended a consultation
    Last = ConsultationEnded,
};

[[nodiscard]] QLatin1StringView auditEventName(AuditEvent event);
[[nodiscard]] std::optional<AuditEvent> auditEventFromName(QStringView name);

// One thing that happened. Empty strings and unset ids are written as null.
struct AuditEntry
{
    AuditEvent event = AuditEvent::Connect;
    QString actor;                       // user id, "anonymous", "admin:<address>" or "system"
    QString role;                        // token role, when known
    QString connectionId;                // server-assigned connection id
    QString address;                     // peer IP address, no port
    QString roomId;
    std::optional<qint64> appointmentId;
    // A short machine-readable reason ("bad_signature", "close_room", ...).
    // Only [A-Za-z0-9 _.:=,/-] survive, at most 200 characters: free text
    // (and with it message content) cannot reach the log through here.
    QString detail;
};

// A key for the keyed chain. The id is derived from the secret, so a record
// names the key that signed it without revealing anything about it.
struct AuditKey
{
    QByteArray id;     // 16 lower-case hex characters
    QByteArray secret; // at least 32 bytes

    [[nodiscard]] static AuditKey fromSecret(const QByteArray &secret);
};

// The keys a verifier knows, by id.
using AuditKeyRing = QHash<QByteArray, QByteArray>;

namespace AuditRecord {

inline constexpr qsizetype kMaxLineBytes = 16 * 1024; // records are well under 2 KiB
inline const QByteArray kZeroHash(64, '0');

// Hex SHA-256 of a stored line: the next record's `prev`.
[[nodiscard]] QByteArray lineHash(QByteArrayView line);
// Hex HMAC-SHA256.
[[nodiscard]] QByteArray hmacHex(const QByteArray &secret, QByteArrayView data);

// The stored line (without its newline) for `entry` as record `seq`.
[[nodiscard]] QByteArray build(const AuditEntry &entry, quint64 seq, const QByteArray &prev, const QString &ts,
                               const AuditKey *key);

struct Checked
{
    bool ok = false;
    QString reason;     // why the line is not a valid record, when !ok
    bool keyMissing = false; // keyed with a key id the ring does not hold (not a broken record)
    qint64 seq = 0;
    QByteArray prev;
    QByteArray kid;     // empty: an unkeyed record
    bool macChecked = false; // the HMAC was checked (false when no ring was given)
    QString event;
    QString ts;
    QString detail;
};

// Checks one line on its own. With `keys`, a keyed record's HMAC is checked
// (keyMissing when its key is not in the ring); without, only its shape.
[[nodiscard]] Checked check(const QByteArray &line, const AuditKeyRing *keys);

} // namespace AuditRecord

} // namespace medrelay::security
