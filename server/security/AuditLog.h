#pragma once
// The tamper-evident audit trail's writer: one JSON object per line in
// <dataDir>/audit.jsonl, each record chained to the one before by a SHA-256 of
// the previous line and, with a key, signed by an HMAC (AuditRecord). Records
// carry identifiers only: never chat text, whiteboard data, SDP or display
// names. AuditVerifier checks the files offline (medrelay-server --verify-audit).
//
// One writer thread owns the files. post() queues a record (its timestamp
// taken now) and never blocks on the disk; the writer writes everything
// queued and syncs once per batch (group commit). It also:
// - keeps records it could not write (disk full, I/O error) in a bounded
//   backlog and retries them in order; when the backlog is full, new records
//   are dropped and counted, and a `records_dropped` record naming how many
//   and when is written where they are missing;
// - rotates the file by size and/or at UTC midnight, the chain continuing in
//   the next file, and deletes rotated files older than the retention period
//   after recording each deletion in the chain;
// - with a key, writes a signed checkpoint (AuditCheckpoint) of the last
//   durable record beside the log and hands it to onCheckpoint (the system
//   log), after the first records and then at most every checkpoint interval,
//   at rotation and at close.

#include "security/AuditRecord.h"

#include <QByteArray>
#include <QDate>
#include <QDateTime>
#include <QString>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

class QFile;
class QLockFile;

namespace medrelay::security {

struct AuditLogOptions
{
    // Without a key, records are written unkeyed (the form of logs from
    // before keys existed) and no checkpoints are written.
    std::optional<AuditKey> key;
    qint64 rotateBytes = 64 * 1024 * 1024; // 0: never by size
    bool rotateDaily = true;               // a new file for each UTC day
    int retentionDays = 0;                 // 0: keep every file
    qsizetype backlogLimit = 50000;        // records waiting for the disk before new ones are dropped
    int checkpointIntervalMs = 30 * 1000;
    int retryIntervalMs = 1000;            // after a failed write
    // Called on the writer thread with each checkpoint's JSON.
    std::function<void(const QByteArray &checkpoint)> onCheckpoint;
    // The time records are stamped with, and retention measured against
    // (tests set it; default: the system clock, UTC).
    std::function<QDateTime()> clock;
    // Called (on whichever thread noticed) when writing starts or stops
    // failing, records are dropped, or records are lost at close.
    std::function<void(const QString &message)> onAlert;
};

struct AuditLogStatus
{
    quint64 backlog = 0;        // records accepted but not yet on disk
    quint64 written = 0;        // records written since open
    quint64 failedWrites = 0;   // write attempts that failed (each retry counts)
    quint64 droppedRecords = 0; // records dropped because the backlog was full
    quint64 checkpointFailures = 0;
    quint64 rotations = 0;
    bool behind = false;        // the last write failed: records are waiting for the disk
    quint64 lastSeq = 0;        // last record on disk
};

class AuditLog final
{
public:
    enum class OpenMode : quint8 {
        // Continue the existing chain; refuse to open when its tail is broken.
        ContinueChain,
        // When the active file's tail is broken, move it aside to
        // audit.jsonl.broken-<UTC time> and continue from the rotated files
        // (or start a new chain).
        StartNewFileIfBroken,
    };

    struct Opened
    {
        std::unique_ptr<AuditLog> log;
        QString error;
        QString movedAside; // path of the broken file set aside, if any
    };

    // Creates dataDir (mode 0700) and the file (mode 0600) when missing and
    // holds a lock file so that a second process cannot fork the chain. The
    // chain continues from the active file, or from the newest rotated file
    // when the active one is missing or empty. With a key, a checkpoint
    // beside the log that names a later record than the log holds (records
    // removed from its end) or that does not verify refuses the open.
    [[nodiscard]] static Opened open(const QString &dataDir, const AuditLogOptions &options = {},
                                     OpenMode mode = OpenMode::ContinueChain);

    // Writes what is queued (one last try when the disk still fails), a
    // final checkpoint, and stops the writer.
    ~AuditLog();
    Q_DISABLE_COPY_MOVE(AuditLog)

    // Queues one record for the writer; never blocks on the disk.
    void post(const AuditEntry &entry);
    // post(), then waits until the record is on disk. False (with *error
    // set) when the write failed or timed out; the record then stays in the
    // backlog and is written when the disk accepts it.
    bool append(const AuditEntry &entry, QString *error = nullptr, int timeoutMs = 5000);
    // Waits until every record posted before the call is on disk and, with a
    // key, covered by a checkpoint. False on timeout or failure.
    bool flush(int timeoutMs = 5000);

    [[nodiscard]] AuditLogStatus status() const;
    [[nodiscard]] QString filePath() const; // the active file
    [[nodiscard]] QString directory() const;
    [[nodiscard]] quint64 lastSeq() const;

private:
    struct Pending
    {
        AuditEntry entry;
        QString ts;
    };
    using Clock = std::chrono::steady_clock;

    explicit AuditLog(AuditLogOptions options);
    // Queues a record; its position among all posted, or nothing when the
    // backlog is full and it was dropped.
    std::optional<quint64> enqueue(const AuditEntry &entry);
    void writerLoop();
    // Writer thread only, without the queue lock:
    size_t writeBatch(const std::deque<Pending> &batch, QString *error);
    bool writeChunk(const QByteArray &bytes, QString *error);
    [[nodiscard]] bool rotationDue(const QString &ts, qint64 pendingBytes) const;
    bool rotate(QString *error);
    void applyRetention();
    bool writeCheckpoint(QString *error);
    void alert(const QString &message) const;
    [[nodiscard]] QDateTime now() const;

    AuditLogOptions m_options;
    QString m_dir;
    QString m_activePath;
    std::unique_ptr<QLockFile> m_lock;

    // Owned by the writer thread once it runs.
    std::unique_ptr<QFile> m_file;
    quint64 m_seq = 0;
    QByteArray m_prev;       // hex SHA-256 of the last line
    QString m_lastTs;        // ts of the last record written
    qint64 m_fileBytes = 0;
    QDate m_fileDay;         // UTC day of the active file's first record
    bool m_retentionDue = true;
    bool m_rotationFailing = false;
    bool m_rotationAlerted = false;

    // Shared, under m_mutex.
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Pending> m_queue;
    size_t m_inFlight = 0;
    quint64 m_posted = 0;
    quint64 m_done = 0;      // posted records written (or given up at close)
    quint64 m_durableSeq = 0;
    quint64 m_checkpointSeq = 0;
    Clock::time_point m_checkpointDueAt;
    Clock::time_point m_retryAt;
    bool m_checkpointRequested = false;
    bool m_stopping = false;
    quint64 m_gapCount = 0;  // records dropped since the last accepted one
    QString m_gapFirst;
    QString m_gapLast;
    AuditLogStatus m_status;
    std::thread m_writer;
};

} // namespace medrelay::security
