#pragma once
// The tamper-evident audit trail: one JSON object per line in
// <dataDir>/audit.jsonl, each record chained to the one before by a SHA-256 of
// the previous line, and made durable (fdatasync) before append() returns.
// Records carry identifiers only: never chat text, whiteboard data, SDP or
// display names. verify() checks a file offline (medrelay-server --verify-audit).
//
// Two ways to write, both thread-safe:
// - append(): writes and fdatasync()s before it returns (about 4 ms per record
//   on the development VM's ext4 disk): for rare events, or off the event loop.
// - post(): queues the record (its timestamp taken now) for a writer thread
//   that writes everything queued and syncs once per batch (group commit). A
//   record is durable at most one fdatasync after the one in progress when it
//   was posted; flush() waits for that. Use this from the event loop.

#include <QByteArray>
#include <QLatin1StringView>
#include <QMutex>
#include <QString>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

class QFile;
class QLockFile;
class QTextStream;

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
    AdminRefused, // refused admin requests from one address, counted over a window
};

[[nodiscard]] QLatin1StringView auditEventName(AuditEvent event);
[[nodiscard]] std::optional<AuditEvent> auditEventFromName(QStringView name);

// One thing that happened. Empty strings and unset ids are written as null.
struct AuditEntry
{
    AuditEvent event = AuditEvent::Connect;
    QString actor;                       // user id, "admin:<id>" or "system"
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

struct AuditVerifyResult
{
    bool ok = false;
    qint64 records = 0;       // records checked and found intact
    qint64 badLine = 0;       // 1-based line of the first broken record, when !ok
    QString reason;           // why that line is broken, when !ok
    QByteArray lastLineHash;  // hex SHA-256 of the last intact line (anchor for truncation checks)
};

class AuditLog final
{
public:
    static constexpr QLatin1StringView kFileName{"audit.jsonl"};

    enum class OpenMode : quint8 {
        // Continue the existing chain; refuse to open when its tail is broken.
        ContinueChain,
        // When the existing file's tail is broken, move it aside to
        // audit.jsonl.broken-<UTC time> and start a new chain.
        StartNewFileIfBroken,
    };

    struct Opened
    {
        std::unique_ptr<AuditLog> log;
        QString error;
        QString movedAside; // path of the broken file set aside, if any
    };

    // Creates dataDir (mode 0700) and the file (mode 0600) when missing and
    // holds a lock file so that a second process cannot fork the chain.
    [[nodiscard]] static Opened open(const QString &dataDir, OpenMode mode = OpenMode::ContinueChain);

    ~AuditLog();
    Q_DISABLE_COPY_MOVE(AuditLog)

    // Writes one record and fdatasync()s it. False (with *error set) when the
    // write or the sync failed; the chain then stays at the last good record.
    bool append(const AuditEntry &entry, QString *error = nullptr);

    // Queues one record for the writer thread; never blocks on the disk.
    void post(const AuditEntry &entry);
    // Waits until every record posted before the call is written and synced.
    // False on timeout or when a write failed (see failedRecords()).
    bool flush(int timeoutMs = 5000);
    // Posted records that could not be written (disk full, I/O error).
    [[nodiscard]] quint64 failedRecords() const;

    [[nodiscard]] QString filePath() const;
    [[nodiscard]] quint64 lastSeq() const;

    [[nodiscard]] static AuditVerifyResult verify(const QString &path);

private:
    struct Pending
    {
        AuditEntry entry;
        QString ts;
    };
    AuditLog();
    QByteArray buildLine(const AuditEntry &entry, const QString &ts) const; // m_mutex held
    bool writeAndSync(const QList<QByteArray> &lines, QString *error);    // m_mutex held
    void writerLoop();

    mutable QMutex m_mutex; // the file and the chain state
    std::unique_ptr<QFile> m_file;
    std::unique_ptr<QLockFile> m_lock;
    quint64 m_seq = 0;
    QByteArray m_prev; // hex SHA-256 of the last line

    // Group commit: queue, counters and the writer thread.
    mutable std::mutex m_queueMutex;
    std::condition_variable m_queueChanged;
    std::deque<Pending> m_queue;
    quint64 m_posted = 0;
    quint64 m_done = 0; // posted records written (or failed)
    quint64 m_failed = 0;
    bool m_stopping = false;
    std::thread m_writer;
};

// `medrelay-server --verify-audit FILE`: prints one line to `out` and returns
// the process exit code: 0 intact, 1 broken, 2 unreadable.
int runVerifyAuditCommand(const QString &path, QTextStream &out);

} // namespace medrelay::security
