#include "store/SqliteHistoryDatabase.h"

#include "store/RequestChecks.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QVariant>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace medrelay::store {

using namespace Qt::StringLiterals;

namespace {

constexpr int kSchemaVersion = 1;
constexpr qsizetype kMaxCachedRooms = 10'000;

// Bodies and the ended-by id are encrypted; everything else is what the
// store needs to find, order, bound and prune records (see docs/STORAGE.md).
const QString kSchema[] = {
    u"CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)"_s,
    u"CREATE TABLE IF NOT EXISTS rooms ("
    " id INTEGER PRIMARY KEY,"
    " room_id TEXT NOT NULL UNIQUE,"
    " last_seq INTEGER NOT NULL DEFAULT 0,"
    " last_created_at INTEGER NOT NULL DEFAULT 0,"
    " ended_at INTEGER NOT NULL DEFAULT 0,"
    " ended_by BLOB,"
    " ended_seq INTEGER NOT NULL DEFAULT 0,"
    " retain_until INTEGER NOT NULL DEFAULT 0,"
    " refuse_joins_until INTEGER NOT NULL DEFAULT 0)"_s,
    // The age bound works room by room from here: within a room created_at
    // never decreases, so what is too old is a prefix of its seqs, and no
    // index on every message's time is needed.
    u"CREATE INDEX IF NOT EXISTS rooms_last_created ON rooms(last_created_at)"_s,
    u"CREATE INDEX IF NOT EXISTS rooms_retain ON rooms(retain_until) WHERE retain_until > 0"_s,
    u"CREATE INDEX IF NOT EXISTS rooms_refuse ON rooms(refuse_joins_until) WHERE refuse_joins_until > 0"_s,
    u"CREATE TABLE IF NOT EXISTS messages ("
    " id INTEGER PRIMARY KEY,"
    " room INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " class INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " body BLOB NOT NULL)"_s,
    u"CREATE UNIQUE INDEX IF NOT EXISTS messages_room_seq ON messages(room, seq)"_s,
    // Keys are written at the table's end; the one index that places them by
    // room is also how a room's keys are found for trimming (a room holds at
    // most its window plus a slack of them).
    u"CREATE TABLE IF NOT EXISTS dedup ("
    " id INTEGER PRIMARY KEY,"
    " room INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " tag BLOB NOT NULL,"
    " created_at INTEGER NOT NULL)"_s,
    u"CREATE UNIQUE INDEX IF NOT EXISTS dedup_room_tag ON dedup(room, tag)"_s,
};

// How far past a count bound a room may go on disk before its surplus is
// deleted in one statement.
qint64 trimSlack(qint64 bound)
{
    return std::max<qint64>(16, bound / 16);
}

QString sqlError(const QSqlError &e)
{
    const QString text = e.text().trimmed();
    return text.isEmpty() ? u"unknown SQLite error"_s : text;
}

bool isBusy(const QSqlError &e)
{
    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), and their extended codes.
    bool ok = false;
    const int code = e.nativeErrorCode().toInt(&ok);
    return ok && ((code & 0xff) == 5 || (code & 0xff) == 6);
}

} // namespace

struct SqliteHistoryDatabase::Statements
{
    explicit Statements(const QSqlDatabase &db)
        : selectRoom(db), insertRoom(db), updateRoom(db), insertMessage(db), trimMessages(db), claimDedup(db),
          selectDedup(db), trimDedup(db), readMessages(db), oldestMessage(db), lastClear(db), readClassDesc(db),
          selectRecord(db), endRoom(db), deleteMessages(db), deleteDedup(db), expireMessages(db), expireDedup(db)
    {
    }
    QSqlQuery selectRoom, insertRoom, updateRoom, insertMessage, trimMessages, claimDedup, selectDedup, trimDedup,
        readMessages, oldestMessage, lastClear, readClassDesc, selectRecord, endRoom, deleteMessages, deleteDedup,
        expireMessages, expireDedup;
};

SqliteHistoryDatabase::SqliteHistoryDatabase(QString connectionName, QString path,
                                             std::unique_ptr<HistoryCipher> cipher, Settings settings)
    : m_connectionName(std::move(connectionName)), m_path(std::move(path)), m_cipher(std::move(cipher)),
      m_settings(std::move(settings)),
      m_dedupWindow(checks::dedupWindow(m_settings.limits, m_settings.dedupWindow))
{
    m_settings.limits.maxMessagesPerRoom = std::max(0, m_settings.limits.maxMessagesPerRoom);
    m_settings.limits.maxAgeMs = std::max<qint64>(0, m_settings.limits.maxAgeMs);
}

SqliteHistoryDatabase::~SqliteHistoryDatabase()
{
    m_q.reset();
    if (m_db.isOpen()) {
        // Leave no write-ahead log behind when nothing else needs it.
        QSqlQuery(u"PRAGMA wal_checkpoint(TRUNCATE)"_s, m_db).finish();
        m_db.close();
    }
    m_db = QSqlDatabase();
    QSqlDatabase::removeDatabase(m_connectionName);
}

std::unique_ptr<SqliteHistoryDatabase> SqliteHistoryDatabase::open(const QString &dataDir,
                                                                   std::unique_ptr<HistoryCipher> cipher,
                                                                   Settings settings, QString *error)
{
    const QString dir = QDir(dataDir).absolutePath();
    const QString path = QDir(dir).filePath(kFileName);
    auto refuse = [&](const QString &why) {
        if (error)
            *error = why;
        return std::unique_ptr<SqliteHistoryDatabase>();
    };
    if (!cipher)
        return refuse(u"cannot open history database '%1': no history key"_s.arg(path));

    if (!QFileInfo(dir).isDir()) {
        if (!QDir().mkpath(dir))
            return refuse(u"cannot open history database '%1': cannot create directory '%2'"_s.arg(path, dir));
        ::chmod(QFile::encodeName(dir).constData(), 0700);
    }
    // SQLite would create the file with the umask's mode; create it 0600
    // first (its -wal file takes the database's mode).
    const QByteArray nativePath = QFile::encodeName(path);
    const bool existed = QFileInfo::exists(path);
    const int fd = ::open(nativePath.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return refuse(u"cannot open history database '%1': %2"_s.arg(path, QString::fromLocal8Bit(::strerror(errno))));
    ::fchmod(fd, 0600);
    ::close(fd);
    if (!existed) {
        // The new file's directory entry must survive a power loss too
        // (SQLite syncs the directory for the WAL it creates, not for this).
        const int dirFd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirFd >= 0) {
            ::fsync(dirFd);
            ::close(dirFd);
        }
    }

    static std::atomic<quint64> counter{0};
    const QString name = u"medrelay-history-%1"_s.arg(counter.fetch_add(1));
    std::unique_ptr<SqliteHistoryDatabase> db(
        new SqliteHistoryDatabase(name, path, std::move(cipher), std::move(settings)));
    if (QString why; !db->initialise(&why))
        return refuse(why);
    return db;
}

bool SqliteHistoryDatabase::initialise(QString *error)
{
    auto refuse = [&](const QString &why) {
        *error = why;
        return false;
    };
    if (!QSqlDatabase::isDriverAvailable(u"QSQLITE"_s))
        return refuse(u"cannot open history database '%1': the Qt SQLite driver (QSQLITE, Debian package "
                      "libqt6sql6-sqlite) is not installed"_s.arg(m_path));
    m_db = QSqlDatabase::addDatabase(u"QSQLITE"_s, m_connectionName);
    m_db.setDatabaseName(m_path);
    // A second opener fails at once rather than waiting for the lock.
    m_db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=0"_s);
    if (!m_db.open())
        return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, sqlError(m_db.lastError())));

    // EXCLUSIVE before WAL: this connection holds the file alone (no shared
    // memory index), so two servers cannot hand out the same seq.
    // synchronous=FULL syncs the WAL at every commit: a completed batch
    // survives kill -9 and power loss. Checkpoints every 4096 pages (16 MiB
    // of WAL) rather than SQLite's 1000: pages written again and again (the
    // newest leaf of each index) are copied back to the database less often.
    const QString pragmas[] = {
        u"PRAGMA locking_mode=EXCLUSIVE"_s,  u"PRAGMA synchronous=FULL"_s,    u"PRAGMA wal_autocheckpoint=4096"_s,
        u"PRAGMA journal_size_limit=67108864"_s, u"PRAGMA cache_size=-8192"_s, u"PRAGMA foreign_keys=OFF"_s,
    };
    for (const QString &p : pragmas) {
        QSqlQuery q(m_db);
        if (!q.exec(p)) {
            if (isBusy(q.lastError()))
                return refuse(u"cannot open history database '%1': it is in use by another process"_s.arg(m_path));
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, sqlError(q.lastError())));
        }
    }
    {
        QSqlQuery q(m_db);
        if (!q.exec(u"PRAGMA journal_mode=WAL"_s) || !q.next()) {
            if (isBusy(q.lastError()))
                return refuse(u"cannot open history database '%1': it is in use by another process"_s.arg(m_path));
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, sqlError(q.lastError())));
        }
        if (q.value(0).toString().compare(u"wal"_s, Qt::CaseInsensitive) != 0)
            return refuse(u"cannot open history database '%1': write-ahead logging is not available"_s.arg(m_path));
    }
    {
        QSqlQuery q(m_db);
        if (!q.exec(u"BEGIN IMMEDIATE"_s)) {
            if (isBusy(q.lastError()))
                return refuse(u"cannot open history database '%1': it is in use by another process"_s.arg(m_path));
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, sqlError(q.lastError())));
        }
    }
    for (const QString &sql : kSchema) {
        if (!exec(sql)) {
            rollback();
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, m_failure));
        }
    }

    QByteArray storedKeyId;
    int storedVersion = 0;
    {
        QSqlQuery q(m_db);
        if (!q.exec(u"SELECT name, value FROM meta"_s)) {
            fail(q);
            rollback();
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, m_failure));
        }
        while (q.next()) {
            const QString key = q.value(0).toString();
            if (key == "key_id"_L1)
                storedKeyId = q.value(1).toByteArray();
            else if (key == "schema_version"_L1)
                storedVersion = q.value(1).toInt();
        }
    }
    const QByteArray keyId = m_cipher->keyId();
    if (storedKeyId.isEmpty()) {
        QSqlQuery any(m_db);
        if (!any.exec(u"SELECT 1 FROM rooms LIMIT 1"_s) || any.next()) {
            rollback();
            return refuse(u"history database '%1' holds rooms but no key identifier; refusing to guess its key"_s.arg(
                m_path));
        }
        QSqlQuery q(m_db);
        q.prepare(u"INSERT INTO meta(name, value) VALUES (?, ?), (?, ?)"_s);
        q.bindValue(0, u"key_id"_s);
        q.bindValue(1, keyId);
        q.bindValue(2, u"schema_version"_s);
        q.bindValue(3, kSchemaVersion);
        if (!run(q)) {
            rollback();
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, m_failure));
        }
    } else if (storedKeyId.size() != keyId.size()
               || CRYPTO_memcmp(storedKeyId.constData(), keyId.constData(), size_t(keyId.size())) != 0) {
        rollback();
        return refuse(u"history key does not match the history in %1"_s.arg(m_path));
    } else if (storedVersion > kSchemaVersion) {
        rollback();
        return refuse(u"history database '%1' was written by a newer medrelay (schema %2, this one reads %3)"_s.arg(
            m_path)
                          .arg(storedVersion)
                          .arg(kSchemaVersion));
    }

    m_q = std::make_unique<Statements>(m_db);
    Statements &s = *m_q;
    // Named placeholders: Qt's positional binding formats a name for every
    // value bound, which costs more than the rest of binding together.
    const std::pair<QSqlQuery *, QString> statements[] = {
        {&s.selectRoom, u"SELECT id, last_seq, last_created_at FROM rooms WHERE room_id = :room_id"_s},
        {&s.insertRoom, u"INSERT INTO rooms(room_id) VALUES (:room_id)"_s},
        {&s.updateRoom, u"UPDATE rooms SET last_seq = :seq, last_created_at = :created WHERE id = :room"_s},
        {&s.insertMessage, u"INSERT INTO messages(room, seq, class, created_at, body)"
                           " VALUES (:room, :seq, :class, :created, :body)"_s},
        {&s.trimMessages, u"DELETE FROM messages WHERE room = :room AND seq <= :seq"_s},
        // Takes the key for this seq unless a live message holds it: one
        // statement for the common case of a key not seen before. A key
        // held by a seq outside the window, or too old, is taken over.
        {&s.claimDedup, u"INSERT INTO dedup(room, seq, tag, created_at) VALUES (:room, :seq, :tag, :created)"
                        " ON CONFLICT(room, tag) DO UPDATE SET seq = excluded.seq, created_at = excluded.created_at"
                        " WHERE dedup.seq <= :lowest OR dedup.created_at < :cutoff"_s},
        {&s.selectDedup, u"SELECT seq FROM dedup WHERE room = :room AND tag = :tag"_s},
        {&s.trimDedup, u"DELETE FROM dedup WHERE room = :room AND seq <= :seq"_s},
        {&s.readMessages, u"SELECT seq, class, created_at, body FROM messages WHERE room = :room AND seq > :after"
                          " AND seq <= :upto AND created_at >= :cutoff ORDER BY seq LIMIT :limit"_s},
        {&s.oldestMessage, u"SELECT seq FROM messages WHERE room = :room AND seq > :after"
                           " AND created_at >= :cutoff ORDER BY seq LIMIT 1"_s},
        {&s.lastClear, u"SELECT seq FROM messages WHERE room = :room AND class = 3 AND seq > :after"
                       " AND seq <= :upto AND created_at >= :cutoff ORDER BY seq DESC LIMIT 1"_s},
        {&s.readClassDesc, u"SELECT seq, class, created_at, body FROM messages WHERE room = :room AND class = :class"
                           " AND seq > :after AND seq <= :upto AND created_at >= :cutoff"
                           " ORDER BY seq DESC LIMIT :limit"_s},
        {&s.selectRecord, u"SELECT ended_at, ended_by, refuse_joins_until FROM rooms WHERE id = :room"_s},
        {&s.endRoom, u"UPDATE rooms SET ended_at = :ended_at, ended_by = :ended_by, ended_seq = :seq,"
                     " retain_until = :retain, refuse_joins_until = :refuse WHERE id = :room"_s},
        {&s.deleteMessages, u"DELETE FROM messages WHERE room = :room AND seq <= :seq"_s},
        {&s.deleteDedup, u"DELETE FROM dedup WHERE room = :room AND seq <= :seq"_s},
        // The too-old prefix of one room (nothing when all of it is too old:
        // the caller deletes the room's rows whole then).
        {&s.expireMessages, u"DELETE FROM messages WHERE room = :room AND seq < (SELECT seq FROM messages"
                            " WHERE room = :room AND created_at >= :cutoff ORDER BY seq LIMIT 1)"_s},
        {&s.expireDedup, u"DELETE FROM dedup WHERE room = :room AND created_at < :cutoff"_s},
    };
    for (const auto &[q, sql] : statements) {
        q->setForwardOnly(true);
        if (!q->prepare(sql)) {
            fail(*q);
            rollback();
            return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, m_failure));
        }
    }

    // Limits may have shrunk since the last run: apply them before serving.
    applyLimitsToAllRooms();
    prune();
    if (failed() || !commit()) {
        const QString why = m_failure;
        rollback();
        return refuse(u"cannot open history database '%1': %2"_s.arg(m_path, why));
    }
    return true;
}

qint64 SqliteHistoryDatabase::now() const
{
    return m_settings.clock ? m_settings.clock() : QDateTime::currentMSecsSinceEpoch();
}

qint64 SqliteHistoryDatabase::ageCutoff(qint64 nowMs) const
{
    return m_settings.limits.maxAgeMs > 0 ? nowMs - m_settings.limits.maxAgeMs : std::numeric_limits<qint64>::min();
}

bool SqliteHistoryDatabase::exec(const QString &sql)
{
    QSqlQuery q(m_db);
    if (!q.exec(sql)) {
        fail(q);
        return false;
    }
    return true;
}

bool SqliteHistoryDatabase::run(QSqlQuery &q)
{
    if (q.exec())
        return true;
    fail(q);
    return false;
}

void SqliteHistoryDatabase::fail(const QSqlQuery &q)
{
    if (m_failure.isEmpty())
        m_failure = sqlError(q.lastError());
}

bool SqliteHistoryDatabase::begin()
{
    m_failure.clear();
    return exec(u"BEGIN IMMEDIATE"_s);
}

bool SqliteHistoryDatabase::commit()
{
    if (failed() || !writeRoomCounters() || !exec(u"COMMIT"_s)) {
        rollback();
        return false;
    }
    if (m_rooms.size() > kMaxCachedRooms)
        m_rooms.clear();
    return true;
}

void SqliteHistoryDatabase::rollback()
{
    m_rooms.clear();
    m_dirty.clear();
    QSqlQuery q(m_db);
    q.exec(u"ROLLBACK"_s); // fails harmlessly when SQLite already rolled back
}

SqliteHistoryDatabase::RoomState *SqliteHistoryDatabase::roomState(const QString &roomId, bool create)
{
    const auto it = m_rooms.find(roomId);
    if (it != m_rooms.end())
        return &it.value();
    QSqlQuery &sel = m_q->selectRoom;
    sel.bindValue(u":room_id"_s, roomId);
    if (!run(sel))
        return nullptr;
    RoomState st;
    if (sel.next()) {
        st.id = sel.value(0).toLongLong();
        st.lastSeq = sel.value(1).toLongLong();
        st.lastCreatedAtMs = sel.value(2).toLongLong();
        // At most a slack's worth may be left above the bounds; the room's
        // next batch trims it.
        const qint64 maxMessages = m_settings.limits.maxMessagesPerRoom;
        st.trimmedTo = std::max<qint64>(0, st.lastSeq - maxMessages - trimSlack(maxMessages));
        st.keysTrimmedTo = std::max<qint64>(0, st.lastSeq - m_dedupWindow - trimSlack(m_dedupWindow));
        sel.finish();
    } else {
        sel.finish();
        if (!create)
            return nullptr;
        QSqlQuery &ins = m_q->insertRoom;
        ins.bindValue(u":room_id"_s, roomId);
        if (!run(ins))
            return nullptr;
        st.id = ins.lastInsertId().toLongLong();
    }
    return &m_rooms.insert(roomId, st).value();
}

bool SqliteHistoryDatabase::writeRoomCounters()
{
    const int maxMessages = m_settings.limits.maxMessagesPerRoom;
    for (const QString &roomId : std::as_const(m_dirty)) {
        const auto it = m_rooms.find(roomId);
        if (it == m_rooms.end())
            continue;
        RoomState &st = it.value();
        QSqlQuery &upd = m_q->updateRoom;
        upd.bindValue(u":seq"_s, st.lastSeq);
        upd.bindValue(u":created"_s, st.lastCreatedAtMs);
        upd.bindValue(u":room"_s, st.id);
        if (!run(upd))
            return false;
        // The count bound and the deduplication window, in chunks: a room at
        // its bound would otherwise delete one row (and dirty its pages) per
        // append. Reads apply the bounds exactly meanwhile.
        const qint64 beyond = st.lastSeq - maxMessages;
        if (maxMessages > 0 && beyond - st.trimmedTo >= trimSlack(maxMessages)) {
            QSqlQuery &trim = m_q->trimMessages;
            trim.bindValue(u":room"_s, st.id);
            trim.bindValue(u":seq"_s, beyond);
            if (!run(trim))
                return false;
            st.trimmedTo = beyond;
        }
        const qint64 keysBeyond = st.lastSeq - m_dedupWindow;
        if (keysBeyond - st.keysTrimmedTo >= trimSlack(m_dedupWindow)) {
            QSqlQuery &trimKeys = m_q->trimDedup;
            trimKeys.bindValue(u":room"_s, st.id);
            trimKeys.bindValue(u":seq"_s, keysBeyond);
            if (!run(trimKeys))
                return false;
            st.keysTrimmedTo = keysBeyond;
        }
        st.dirty = false;
    }
    m_dirty.clear();
    return true;
}

AppendResult SqliteHistoryDatabase::append(const AppendRequest &request)
{
    AppendResult result;
    if (const QString error = checks::appendError(request); !error.isEmpty()) {
        result.error = error;
        return result;
    }
    const qint64 nowMs = now();
    RoomState *st = roomState(request.roomId, true);
    if (st == nullptr) {
        result.error = u"history write failed"_s;
        return result;
    }
    const qint64 roomKey = st->id;
    const qint64 seq = st->lastSeq + 1;
    const qint64 createdAt = std::max(request.createdAtMs > 0 ? request.createdAtMs : nowMs, st->lastCreatedAtMs);

    if (!request.dedupKey.isEmpty()) {
        const QByteArray tag = m_cipher->dedupTag(request.roomId, request.dedupKey);
        if (tag.isEmpty()) {
            result.error = u"cannot key the deduplication key"_s;
            return result;
        }
        QSqlQuery &claim = m_q->claimDedup;
        claim.bindValue(u":room"_s, roomKey);
        claim.bindValue(u":seq"_s, seq);
        claim.bindValue(u":tag"_s, tag);
        claim.bindValue(u":created"_s, createdAt);
        claim.bindValue(u":lowest"_s, st->lastSeq - m_dedupWindow);
        claim.bindValue(u":cutoff"_s, ageCutoff(nowMs));
        if (!run(claim)) {
            result.error = u"history write failed"_s;
            return result;
        }
        if (claim.numRowsAffected() == 0) {
            // A live message holds the key: answer with its seq.
            QSqlQuery &sel = m_q->selectDedup;
            sel.bindValue(u":room"_s, roomKey);
            sel.bindValue(u":tag"_s, tag);
            if (!run(sel) || !sel.next()) {
                sel.finish();
                if (!failed())
                    m_failure = u"deduplication key vanished"_s;
                result.error = u"history write failed"_s;
                return result;
            }
            result.ok = true;
            result.seq = sel.value(0).toLongLong();
            result.duplicate = true;
            sel.finish();
            return result;
        }
    }

    if (m_settings.limits.maxMessagesPerRoom > 0) {
        const std::optional<QByteArray> sealed =
            m_cipher->seal(request.body, {request.roomId, seq, quint8(request.cls)});
        if (!sealed) {
            // The claimed key must not outlive a message that was not stored.
            m_failure = u"cannot encrypt the message"_s;
            result.error = m_failure;
            return result;
        }
        QSqlQuery &ins = m_q->insertMessage;
        ins.bindValue(u":room"_s, roomKey);
        ins.bindValue(u":seq"_s, seq);
        ins.bindValue(u":class"_s, int(request.cls));
        ins.bindValue(u":created"_s, createdAt);
        ins.bindValue(u":body"_s, *sealed);
        if (!run(ins)) {
            result.error = u"history write failed"_s;
            return result;
        }
    }
    st->lastSeq = seq;
    st->lastCreatedAtMs = createdAt;
    if (!st->dirty) {
        st->dirty = true;
        m_dirty.append(request.roomId);
    }
    result.ok = true;
    result.seq = seq;
    return result;
}

std::optional<QList<StoredMessage>> SqliteHistoryDatabase::decryptRows(QSqlQuery &q, const QString &roomId,
                                                                       bool reverse)
{
    QList<StoredMessage> out;
    bool intact = true;
    while (q.next()) {
        StoredMessage m;
        m.seq = q.value(0).toLongLong();
        const int cls = q.value(1).toInt();
        m.cls = MessageClass(cls);
        m.createdAtMs = q.value(2).toLongLong();
        const std::optional<QByteArray> body =
            checks::isMessageClass(m.cls)
            ? m_cipher->open(q.value(3).toByteArray(), {roomId, m.seq, quint8(cls)})
            : std::nullopt;
        if (!body) {
            intact = false;
            break;
        }
        m.body = *body;
        out.append(std::move(m));
    }
    q.finish();
    if (!intact)
        return std::nullopt;
    if (reverse)
        std::reverse(out.begin(), out.end());
    return out;
}

ReadResult SqliteHistoryDatabase::read(const ReadRequest &request)
{
    ReadResult result;
    if (const QString error = checks::roomIdError(request.roomId); !error.isEmpty()) {
        result.error = error;
        return result;
    }
    const RoomState *st = roomState(request.roomId, false);
    if (failed()) {
        result.error = u"history read failed"_s;
        return result;
    }
    result.ok = true;
    if (st == nullptr)
        return result;
    const qint64 cutoff = ageCutoff(now());
    const qint64 floor = st->lastSeq - m_settings.limits.maxMessagesPerRoom; // seqs above it are within the count
    result.lastSeq = st->lastSeq;
    result.oldestAvailable = st->lastSeq + 1;
    if (m_settings.limits.maxMessagesPerRoom == 0)
        return result;
    auto failRead = [&](const QString &why) {
        result = ReadResult{};
        result.error = why;
        return result;
    };

    QSqlQuery &oldest = m_q->oldestMessage;
    oldest.bindValue(u":room"_s, st->id);
    oldest.bindValue(u":after"_s, floor);
    oldest.bindValue(u":cutoff"_s, cutoff);
    if (!run(oldest))
        return failRead(u"history read failed"_s);
    if (oldest.next())
        result.oldestAvailable = oldest.value(0).toLongLong();
    oldest.finish();

    if (request.limit <= 0 || request.upToSeq <= request.afterSeq)
        return result;
    QSqlQuery &q = m_q->readMessages;
    q.bindValue(u":room"_s, st->id);
    q.bindValue(u":after"_s, std::max(request.afterSeq, floor));
    q.bindValue(u":upto"_s, request.upToSeq);
    q.bindValue(u":cutoff"_s, cutoff);
    q.bindValue(u":limit"_s, request.limit);
    if (!run(q))
        return failRead(u"history read failed"_s);
    std::optional<QList<StoredMessage>> rows = decryptRows(q, request.roomId, false);
    if (!rows)
        return failRead(u"a stored message failed authentication (altered, or written with another key)"_s);
    result.messages = std::move(*rows);
    return result;
}

Snapshot SqliteHistoryDatabase::snapshot(const SnapshotRequest &request)
{
    Snapshot result;
    if (const QString error = checks::roomIdError(request.roomId); !error.isEmpty()) {
        result.error = error;
        return result;
    }
    const RoomState *st = roomState(request.roomId, false);
    if (failed()) {
        result.error = u"history read failed"_s;
        return result;
    }
    result.ok = true;
    if (st == nullptr || m_settings.limits.maxMessagesPerRoom == 0)
        return result;
    const qint64 cutoff = ageCutoff(now());
    const qint64 floor = st->lastSeq - m_settings.limits.maxMessagesPerRoom;
    auto failRead = [&](const QString &why) {
        result = Snapshot{};
        result.error = why;
        return result;
    };

    qint64 boardFloor = floor;
    QSqlQuery &clear = m_q->lastClear;
    clear.bindValue(u":room"_s, st->id);
    clear.bindValue(u":after"_s, floor);
    clear.bindValue(u":upto"_s, request.upToSeq);
    clear.bindValue(u":cutoff"_s, cutoff);
    if (!run(clear))
        return failRead(u"history read failed"_s);
    if (clear.next())
        boardFloor = std::max(boardFloor, clear.value(0).toLongLong());
    clear.finish();

    const std::pair<MessageClass, std::pair<qint64, int>> lists[] = {
        {MessageClass::Whiteboard, {boardFloor, request.maxWhiteboard}},
        {MessageClass::Chat, {floor, request.recentChat}},
    };
    for (const auto &[cls, range] : lists) {
        if (range.second <= 0)
            continue;
        QSqlQuery &q = m_q->readClassDesc;
        q.bindValue(u":room"_s, st->id);
        q.bindValue(u":class"_s, int(cls));
        q.bindValue(u":after"_s, range.first);
        q.bindValue(u":upto"_s, request.upToSeq);
        q.bindValue(u":cutoff"_s, cutoff);
        q.bindValue(u":limit"_s, range.second);
        if (!run(q))
            return failRead(u"history read failed"_s);
        std::optional<QList<StoredMessage>> rows = decryptRows(q, request.roomId, true);
        if (!rows)
            return failRead(u"a stored message failed authentication (altered, or written with another key)"_s);
        (cls == MessageClass::Chat ? result.recentChat : result.whiteboard) = std::move(*rows);
    }
    return result;
}

RoomRecord SqliteHistoryDatabase::room(const QString &roomId)
{
    RoomRecord record;
    if (const QString error = checks::roomIdError(roomId); !error.isEmpty()) {
        record.error = error;
        return record;
    }
    const RoomState *st = roomState(roomId, false);
    if (failed()) {
        record.error = u"history read failed"_s;
        return record;
    }
    record.ok = true;
    if (st == nullptr)
        return record;
    record.lastSeq = st->lastSeq;
    QSqlQuery &q = m_q->selectRecord;
    q.bindValue(u":room"_s, st->id);
    if (!run(q)) {
        record = RoomRecord{};
        record.error = u"history read failed"_s;
        return record;
    }
    if (q.next()) {
        record.endedAtMs = q.value(0).toLongLong();
        const QByteArray endedBy = q.value(1).toByteArray();
        record.refuseJoinsUntilMs = q.value(2).toLongLong();
        if (!endedBy.isEmpty()) {
            const std::optional<QByteArray> plain =
                m_cipher->open(endedBy, {roomId, 0, HistoryCipher::kEndedByClass});
            if (!plain) {
                q.finish();
                record = RoomRecord{};
                record.error = u"the stored room record failed authentication"_s;
                return record;
            }
            record.endedBy = QString::fromUtf8(*plain);
        }
    }
    q.finish();
    return record;
}

bool SqliteHistoryDatabase::deleteHeld(qint64 roomKey, qint64 upToSeq)
{
    QSqlQuery &msgs = m_q->deleteMessages;
    msgs.bindValue(u":room"_s, roomKey);
    msgs.bindValue(u":seq"_s, upToSeq);
    QSqlQuery &keys = m_q->deleteDedup;
    keys.bindValue(u":room"_s, roomKey);
    keys.bindValue(u":seq"_s, upToSeq);
    return run(msgs) && run(keys);
}

bool SqliteHistoryDatabase::endRoom(const QString &roomId, qint64 endedAtMs, const QString &endedBy,
                                    qint64 retainUntilMs, qint64 refuseJoinsUntilMs)
{
    if (!checks::roomIdError(roomId).isEmpty())
        return false;
    RoomState *st = roomState(roomId, true);
    if (st == nullptr)
        return false;
    QVariant sealedBy; // NULL when nobody is named
    if (!endedBy.isEmpty()) {
        const std::optional<QByteArray> sealed =
            m_cipher->seal(endedBy.toUtf8(), {roomId, 0, HistoryCipher::kEndedByClass});
        if (!sealed)
            return false;
        sealedBy = *sealed;
    }
    const bool retain = retainUntilMs > now();
    QSqlQuery &q = m_q->endRoom;
    q.bindValue(u":ended_at"_s, endedAtMs);
    q.bindValue(u":ended_by"_s, sealedBy);
    q.bindValue(u":seq"_s, st->lastSeq);
    q.bindValue(u":retain"_s, retain ? retainUntilMs : 0);
    q.bindValue(u":refuse"_s, refuseJoinsUntilMs);
    q.bindValue(u":room"_s, st->id);
    if (!run(q))
        return false;
    return retain || deleteHeld(st->id, st->lastSeq);
}

bool SqliteHistoryDatabase::deleteRoom(const QString &roomId)
{
    if (!checks::roomIdError(roomId).isEmpty())
        return false;
    const RoomState *st = roomState(roomId, false);
    if (st == nullptr)
        return !failed();
    QSqlQuery q(m_db);
    q.prepare(u"UPDATE rooms SET retain_until = 0 WHERE id = :room"_s);
    q.bindValue(u":room"_s, st->id);
    return run(q) && deleteHeld(st->id, st->lastSeq);
}

QList<qint64> SqliteHistoryDatabase::roomKeys(const QString &sql, const QList<std::pair<QString, qint64>> &binds)
{
    QList<qint64> out;
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(sql);
    for (const auto &[name, value] : binds)
        q.bindValue(name, value);
    if (!run(q))
        return out;
    while (q.next())
        out.append(q.value(0).toLongLong());
    return out;
}

void SqliteHistoryDatabase::prune()
{
    if (!writeRoomCounters())
        return;
    const qint64 nowMs = now();
    const StoreLimits &lim = m_settings.limits;

    // Retention that ran out: the messages of the ended consultation go.
    {
        QSqlQuery due(m_db);
        due.setForwardOnly(true);
        due.prepare(u"SELECT id, ended_seq FROM rooms WHERE retain_until > 0 AND retain_until <= :now"_s);
        due.bindValue(u":now"_s, nowMs);
        if (!run(due))
            return;
        QList<std::pair<qint64, qint64>> rooms;
        while (due.next())
            rooms.append({due.value(0).toLongLong(), due.value(1).toLongLong()});
        due.finish();
        for (const auto &[id, endedSeq] : rooms) {
            if (!deleteHeld(id, endedSeq))
                return;
        }
        QSqlQuery done(m_db);
        done.prepare(u"UPDATE rooms SET retain_until = 0 WHERE retain_until > 0 AND retain_until <= :now"_s);
        done.bindValue(u":now"_s, nowMs);
        if (!run(done))
            return;
    }
    // Join refusals that ran out, and with them who ended the consultation.
    {
        QSqlQuery q(m_db);
        q.prepare(u"UPDATE rooms SET refuse_joins_until = 0, ended_by = NULL"
                  " WHERE refuse_joins_until > 0 AND refuse_joins_until <= :now"_s);
        q.bindValue(u":now"_s, nowMs);
        if (!run(q))
            return;
    }
    // The age bound. Rooms whose newest message is too old lose all of it;
    // only those that went quiet since the last prune need looking at (all
    // of them at the first prune after opening). Rooms written to within
    // the bound lose their too-old prefix.
    if (lim.maxAgeMs > 0) {
        const qint64 cutoff = nowMs - lim.maxAgeMs;
        const QList<qint64> quiet =
            roomKeys(u"SELECT id FROM rooms WHERE last_created_at >= :from AND last_created_at < :cutoff"_s,
                     {{u":from"_s, m_quietBefore}, {u":cutoff"_s, cutoff}});
        for (qint64 id : quiet) {
            if (!deleteHeld(id, std::numeric_limits<qint64>::max()))
                return;
        }
        const QList<qint64> active =
            roomKeys(u"SELECT id FROM rooms WHERE last_created_at >= :cutoff"_s, {{u":cutoff"_s, cutoff}});
        for (qint64 id : active) {
            for (QSqlQuery *q : {&m_q->expireMessages, &m_q->expireDedup}) {
                q->bindValue(u":room"_s, id);
                q->bindValue(u":cutoff"_s, cutoff);
                if (!run(*q))
                    return;
            }
        }
        if (failed())
            return;
        m_quietBefore = cutoff;
    }
}

void SqliteHistoryDatabase::applyLimitsToAllRooms()
{
    // The count bound and the deduplication window for every room, at open:
    // appends keep them per batch, this catches limits lowered since the
    // last run. One index range per room, not a scan of every message.
    const StoreLimits &lim = m_settings.limits;
    {
        QSqlQuery q(m_db);
        if (lim.maxMessagesPerRoom > 0) {
            q.prepare(u"DELETE FROM messages WHERE id IN (SELECT m.id FROM rooms r"
                      " JOIN messages m ON m.room = r.id AND m.seq <= r.last_seq - :max)"_s);
            q.bindValue(u":max"_s, lim.maxMessagesPerRoom);
        } else {
            q.prepare(u"DELETE FROM messages"_s);
        }
        if (!run(q))
            return;
        QSqlQuery keys(m_db);
        keys.prepare(u"DELETE FROM dedup WHERE id IN (SELECT d.id FROM rooms r"
                     " JOIN dedup d ON d.room = r.id AND d.seq <= r.last_seq - :window)"_s);
        keys.bindValue(u":window"_s, m_dedupWindow);
        run(keys);
    }
}

qint64 SqliteHistoryDatabase::roomsWithMessages()
{
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    if (!q.exec(u"SELECT COUNT(*) FROM (SELECT DISTINCT room FROM messages)"_s) || !q.next())
        return 0;
    return q.value(0).toLongLong();
}

} // namespace medrelay::store
