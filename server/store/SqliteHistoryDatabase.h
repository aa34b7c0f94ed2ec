#pragma once
// The history database itself: schema, encryption of what is personal, the
// seq counters, deduplication, bounds and pruning, over one Qt SQL (QSQLITE)
// connection. Everything here runs on the SQLite store's thread, which
// creates, uses and destroys it; SqliteHistoryStore adds the queue, the
// transactions around each batch and the callbacks.
//
// Errors come in two kinds. A request the store refuses (bad input, a record
// that fails authentication) gets a result with ok = false and the database
// carries on. A failing statement (disk full, I/O error, corruption) sets
// failed(): the batch it belongs to must be rolled back, and every result
// computed in it is void.

#include "store/HistoryCipher.h"
#include "store/HistoryStore.h"

#include <QHash>
#include <QSqlDatabase>
#include <QSqlQuery>

#include <functional>
#include <memory>
#include <optional>

namespace medrelay::store {

class SqliteHistoryDatabase final
{
public:
    static constexpr QLatin1StringView kFileName{"history.db"};

    struct Settings
    {
        StoreLimits limits;
        int dedupWindow = 256;
        std::function<qint64()> clock; // ms since the epoch; empty: the system clock
    };

    // Creates dataDir (0700) and the database file (0600) when missing, takes
    // the database for this connection alone (another process, or another
    // store in this one, is refused), creates or checks the schema and the key
    // identifier. nullptr with *error set when any of that fails.
    [[nodiscard]] static std::unique_ptr<SqliteHistoryDatabase> open(const QString &dataDir,
                                                                     std::unique_ptr<HistoryCipher> cipher,
                                                                     Settings settings, QString *error);
    ~SqliteHistoryDatabase();
    Q_DISABLE_COPY_MOVE(SqliteHistoryDatabase)

    [[nodiscard]] QString filePath() const { return m_path; }

    bool begin();
    // Writes the counters of the rooms touched in this transaction and
    // commits. False (failed() set, transaction rolled back) on error.
    bool commit();
    // Rolls back and forgets every cached counter (they may be ahead of disk).
    void rollback();

    [[nodiscard]] bool failed() const { return !m_failure.isEmpty(); }
    [[nodiscard]] QString failure() const { return m_failure; }
    void clearFailure() { m_failure.clear(); }

    AppendResult append(const AppendRequest &request);
    ReadResult read(const ReadRequest &request);
    Snapshot snapshot(const SnapshotRequest &request);
    RoomRecord room(const QString &roomId);
    bool endRoom(const QString &roomId, qint64 endedAtMs, const QString &endedBy, qint64 retainUntilMs,
                 qint64 refuseJoinsUntilMs);
    bool deleteRoom(const QString &roomId);
    // Inside a transaction: the age bound, expired retention, expired refusals.
    void prune();
    // Rooms holding at least one message (a scan of the rooms' index).
    [[nodiscard]] qint64 roomsWithMessages();

private:
    struct RoomState
    {
        qint64 id = 0;
        qint64 lastSeq = 0;
        qint64 lastCreatedAtMs = 0;
        bool dirty = false; // appended to in this transaction: counter and bounds to write
        qint64 trimmedTo = 0;     // no message at or below this seq is left on disk
        qint64 keysTrimmedTo = 0; // the same for deduplication keys
    };

    SqliteHistoryDatabase(QString connectionName, QString path, std::unique_ptr<HistoryCipher> cipher,
                          Settings settings);
    bool initialise(QString *error);
    bool exec(const QString &sql);
    QSqlQuery prepare(const QString &sql);
    bool run(QSqlQuery &q);
    void fail(const QSqlQuery &q);
    [[nodiscard]] qint64 now() const;
    [[nodiscard]] qint64 ageCutoff(qint64 nowMs) const;
    // The room's cached state, loaded from disk on first use; created on disk
    // when `create` (else nullptr for a room the store never saw).
    RoomState *roomState(const QString &roomId, bool create);
    bool writeRoomCounters();
    bool deleteHeld(qint64 roomKey, qint64 upToSeq);
    void applyLimitsToAllRooms();
    QList<qint64> roomKeys(const QString &sql, const QList<std::pair<QString, qint64>> &binds);
    std::optional<QList<StoredMessage>> decryptRows(QSqlQuery &q, const QString &roomId, bool reverse);

    struct Statements;

    QString m_connectionName;
    QString m_path;
    std::unique_ptr<HistoryCipher> m_cipher;
    Settings m_settings;
    qint64 m_dedupWindow = 256;
    QSqlDatabase m_db;
    std::unique_ptr<Statements> m_q; // prepared once, reused for every call
    QString m_failure;
    QHash<QString, RoomState> m_rooms; // cache of counters; cleared when large
    QList<QString> m_dirty;            // rooms appended to in this transaction
    // Rooms quiet since before this were emptied by the age bound already.
    qint64 m_quietBefore = std::numeric_limits<qint64>::min();
};

} // namespace medrelay::store
