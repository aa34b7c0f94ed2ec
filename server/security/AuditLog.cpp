#include "security/AuditLog.h"

#include "security/AuditCheckpoint.h"
#include "security/AuditFiles.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLockFile>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <unistd.h>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

QDate dayOf(const QString &ts)
{
    // ts is ISO 8601 UTC: the date is its first ten characters.
    return QDate::fromString(ts.left(10), Qt::ISODate);
}

QString tsOfLine(const QByteArray &line)
{
    return AuditRecord::check(line, nullptr).ts;
}

// Where the chain ends, read from the end of the file that holds its last
// record. Empty reason: intact (or no records at all).
struct ChainEnd
{
    QString broken;       // why the tail is not a valid end of chain
    QString keyProblem;   // the tail is keyed and no key was given to continue it
    quint64 seq = 0;
    QByteArray prev = AuditRecord::kZeroHash;
    QString lastTs;
};

ChainEnd readChainEnd(const QString &path, const QString &predecessor, const AuditKeyRing &keys)
{
    ChainEnd end;
    const AuditFiles::Tail tail = AuditFiles::readTail(path);
    if (!tail.readable) {
        end.broken = u"cannot be read"_s;
        return end;
    }
    if (!tail.endsWithNewline) {
        end.broken = u"the last record is incomplete (no line end)"_s;
        return end;
    }
    if (tail.last.isEmpty())
        return end;
    const AuditRecord::Checked c = AuditRecord::check(tail.last, &keys);
    if (!c.ok && !c.keyMissing) {
        end.broken = u"the last record is invalid: %1"_s.arg(c.reason);
        return end;
    }
    if (c.keyMissing && keys.isEmpty()) {
        end.keyProblem = u"its records are signed (HMAC): a key is needed to continue the chain"_s;
        return end;
    }
    // A record signed with another key (the key was replaced) is taken as it
    // stands: the chain continues under the new key and the verifier needs
    // both.
    QByteArray before = tail.beforeLast;
    if (before.isEmpty() && c.seq > 1 && !predecessor.isEmpty())
        before = AuditFiles::readTail(predecessor).last; // the first record of a file after rotation
    if (!before.isEmpty() && c.prev != AuditRecord::lineHash(before))
        end.broken = u"the last record does not chain to the one before"_s;
    else if (before.isEmpty() && c.seq == 1 && c.prev != AuditRecord::kZeroHash)
        end.broken = u"the only record does not start a chain"_s;
    if (!end.broken.isEmpty())
        return end;
    end.seq = quint64(c.seq);
    end.prev = AuditRecord::lineHash(tail.last);
    end.lastTs = c.ts;
    return end;
}

} // namespace

AuditLog::AuditLog(AuditLogOptions options)
    : m_options(std::move(options))
{
    m_prev = AuditRecord::kZeroHash;
}

AuditLog::~AuditLog()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        if (m_gapCount > 0) {
            AuditEntry marker;
            marker.event = AuditEvent::RecordsDropped;
            marker.actor = u"system"_s;
            marker.detail = u"count=%1 first=%2 last=%3"_s.arg(m_gapCount).arg(m_gapFirst, m_gapLast);
            m_queue.push_back({marker, now().toString(Qt::ISODateWithMs)});
            ++m_posted;
            m_gapCount = 0;
        }
        m_changed.notify_all();
    }
    if (m_writer.joinable())
        m_writer.join();
}

QString AuditLog::filePath() const
{
    return m_activePath;
}

QString AuditLog::directory() const
{
    return m_dir;
}

quint64 AuditLog::lastSeq() const
{
    std::lock_guard lock(m_mutex);
    return m_durableSeq;
}

AuditLogStatus AuditLog::status() const
{
    std::lock_guard lock(m_mutex);
    AuditLogStatus s = m_status;
    s.backlog = m_queue.size() + m_inFlight;
    s.lastSeq = m_durableSeq;
    return s;
}

AuditLog::Opened AuditLog::open(const QString &dataDir, const AuditLogOptions &options, OpenMode mode)
{
    Opened out;
    QDir dir(dataDir);
    if (!dir.exists()) {
        if (!QDir().mkpath(dataDir)) {
            out.error = u"cannot create audit data directory '%1'"_s.arg(dataDir);
            return out;
        }
        QFile::setPermissions(dataDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    }
    std::unique_ptr<AuditLog> log(new AuditLog(options));
    log->m_dir = dir.absolutePath();
    log->m_activePath = dir.absoluteFilePath(AuditFiles::kActive);
    const QString &path = log->m_activePath;

    log->m_lock = std::make_unique<QLockFile>(path + ".lock"_L1);
    if (!log->m_lock->tryLock(0)) {
        qint64 pid = 0;
        QString host, app;
        log->m_lock->getLockInfo(&pid, &host, &app);
        out.error = u"audit log '%1' is in use by another process (pid %2 on %3)"_s.arg(path).arg(pid).arg(host);
        return out;
    }

    AuditKeyRing keys;
    if (options.key)
        keys.insert(options.key->id, options.key->secret);

    // The chain ends in the active file, or, when that is missing or empty
    // (a rotation interrupted between its two steps), in the newest rotated one.
    const QList<AuditFiles::Rotated> rotated = AuditFiles::rotatedFiles(log->m_dir);
    const QString newestRotated = rotated.isEmpty() ? QString() : rotated.constLast().path;
    const bool activeHasRecords = QFileInfo(path).size() > 0;
    ChainEnd end;
    if (activeHasRecords) {
        end = readChainEnd(path, newestRotated, keys);
        if (!end.broken.isEmpty()) {
            if (mode == OpenMode::ContinueChain) {
                out.error = u"audit log '%1' is broken: %2. Check it with --verify-audit, then move it aside "
                            "to start a new file"_s.arg(path, end.broken);
                return out;
            }
            const QString aside = path + ".broken-"_L1
                + QDateTime::currentDateTimeUtc().toString(u"yyyyMMdd'T'HHmmsszzz'Z'"_s);
            if (!QFile::rename(path, aside)) {
                out.error = u"audit log '%1' is broken (%2) and cannot be moved aside"_s.arg(path, end.broken);
                return out;
            }
            out.movedAside = aside;
            end = ChainEnd{};
        }
    }
    if (!activeHasRecords || !out.movedAside.isEmpty()) {
        if (!newestRotated.isEmpty()) {
            const QString before = rotated.size() >= 2 ? rotated.at(rotated.size() - 2).path : QString();
            end = readChainEnd(newestRotated, before, keys);
            if (!end.broken.isEmpty()) {
                out.error = u"audit log '%1' is broken: %2. Check it with --verify-audit"_s.arg(newestRotated,
                                                                                                end.broken);
                return out;
            }
        }
    }
    if (!end.keyProblem.isEmpty()) {
        out.error = u"audit log '%1': %2"_s.arg(path, end.keyProblem);
        return out;
    }

    // Records removed from the end are found by the checkpoint, which only
    // the key holder can write.
    const QString checkpointPath = dir.absoluteFilePath(AuditFiles::kCheckpoint);
    if (options.key && QFileInfo::exists(checkpointPath)) {
        QFile f(checkpointPath);
        const auto cp = f.open(QIODevice::ReadOnly) ? AuditCheckpoint::parse(f.readAll()) : std::nullopt;
        if (!cp) {
            out.error = u"audit checkpoint '%1' cannot be read. Check the log with --verify-audit, then move "
                        "the checkpoint aside"_s.arg(checkpointPath);
            return out;
        }
        const auto mac = cp->checkMac(keys);
        if (mac == AuditCheckpoint::Mac::Invalid) {
            out.error = u"audit checkpoint '%1' does not verify with the audit key (forged or damaged). Check the "
                        "log with --verify-audit, then move the checkpoint aside"_s.arg(checkpointPath);
            return out;
        }
        if (mac == AuditCheckpoint::Mac::Valid) {
            if (quint64(cp->seq) > end.seq) {
                out.error = u"audit log '%1' ends at record %2, but its checkpoint of %3 names record %4: records "
                            "were removed from its end. Check it with --verify-audit, keep the files as evidence, "
                            "then move them and the checkpoint aside"_s
                                .arg(path)
                                .arg(end.seq)
                                .arg(cp->ts)
                                .arg(cp->seq);
                return out;
            }
            if (quint64(cp->seq) == end.seq && cp->line != end.prev) {
                out.error = u"audit log '%1': its last record differs from the one its checkpoint of %2 names. "
                            "Check it with --verify-audit"_s.arg(path, cp->ts);
                return out;
            }
            log->m_checkpointSeq = quint64(cp->seq);
        }
    }

    const bool created = !QFile::exists(path);
    log->m_file = std::make_unique<QFile>(path);
    if (!log->m_file->open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered)) {
        out.error = u"cannot open audit log '%1' for appending: %2"_s.arg(path, log->m_file->errorString());
        return out;
    }
    if (created) {
        log->m_file->setPermissions(QFile::ReadOwner | QFile::WriteOwner);
        AuditFiles::fsyncDirectory(log->m_dir); // make the new name itself durable
    }
    log->m_seq = end.seq;
    log->m_prev = end.prev;
    log->m_lastTs = end.lastTs;
    log->m_durableSeq = end.seq;
    log->m_status.lastSeq = end.seq;
    log->m_fileBytes = log->m_file->size();
    if (log->m_fileBytes > 0)
        log->m_fileDay = dayOf(tsOfLine(AuditFiles::readFirstLine(path)));
    log->m_checkpointDueAt = Clock::now(); // the first records are checkpointed at once
    log->m_writer = std::thread([raw = log.get()] { raw->writerLoop(); });
    out.log = std::move(log);
    return out;
}

void AuditLog::post(const AuditEntry &entry)
{
    enqueue(entry);
}

std::optional<quint64> AuditLog::enqueue(const AuditEntry &entry)
{
    const QString ts = now().toString(Qt::ISODateWithMs);
    std::lock_guard lock(m_mutex);
    const size_t backlog = m_queue.size() + m_inFlight;
    if (qsizetype(backlog) >= m_options.backlogLimit) {
        // Explicit, counted, and written into the chain once there is room.
        ++m_status.droppedRecords;
        if (m_gapCount++ == 0) {
            m_gapFirst = ts;
            alert(u"audit backlog full (%1 records waiting for the disk): dropping new records until writes "
                  "succeed again"_s.arg(backlog));
        }
        m_gapLast = ts;
        return std::nullopt;
    }
    if (m_gapCount > 0) {
        AuditEntry marker;
        marker.event = AuditEvent::RecordsDropped;
        marker.actor = u"system"_s;
        marker.detail = u"count=%1 first=%2 last=%3"_s.arg(m_gapCount).arg(m_gapFirst, m_gapLast);
        m_queue.push_back({marker, ts});
        ++m_posted;
        m_gapCount = 0;
    }
    m_queue.push_back({entry, ts});
    ++m_posted;
    m_changed.notify_all();
    return m_posted;
}

bool AuditLog::append(const AuditEntry &entry, QString *error, int timeoutMs)
{
    const auto ticket = enqueue(entry);
    if (!ticket) {
        if (error)
            *error = u"audit backlog full: the record was dropped (and counted)"_s;
        return false;
    }
    std::unique_lock lock(m_mutex);
    const quint64 failedBefore = m_status.failedWrites;
    const bool done = m_changed.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] {
        return m_done >= *ticket || m_status.failedWrites != failedBefore;
    });
    if (done && m_done >= *ticket)
        return true;
    if (error)
        *error = done ? u"audit write failed; the record waits in the backlog"_s : u"audit write timed out"_s;
    return false;
}

bool AuditLog::flush(int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    const quint64 target = m_posted;
    const quint64 failedBefore = m_status.failedWrites;
    const quint64 checkpointFailuresBefore = m_status.checkpointFailures;
    m_checkpointRequested = m_options.key.has_value();
    m_changed.notify_all();
    const auto covered = [&] {
        return m_done >= target && (!m_options.key || m_checkpointSeq >= m_durableSeq);
    };
    m_changed.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] {
        return covered() || m_status.failedWrites != failedBefore
            || m_status.checkpointFailures != checkpointFailuresBefore;
    });
    return covered();
}

QDateTime AuditLog::now() const
{
    return m_options.clock ? m_options.clock().toUTC() : QDateTime::currentDateTimeUtc();
}

void AuditLog::alert(const QString &message) const
{
    qWarning("%s", qPrintable(message));
    if (m_options.onAlert)
        m_options.onAlert(message);
}

void AuditLog::writerLoop()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        if (m_retentionDue && m_options.retentionDays > 0) {
            m_retentionDue = false;
            lock.unlock();
            applyRetention();
            lock.lock();
            continue;
        }
        const auto tick = Clock::now();
        const bool waitingToRetry = m_status.behind && tick < m_retryAt && !m_stopping;
        const bool canWrite = !m_queue.empty() && !waitingToRetry;
        const bool uncovered = m_options.key && m_durableSeq > m_checkpointSeq;
        const bool checkpointDue = uncovered && (m_checkpointRequested || m_stopping || tick >= m_checkpointDueAt);
        if (!canWrite && !checkpointDue) {
            if (m_stopping)
                return;
            auto until = Clock::time_point::max();
            if (m_status.behind && !m_queue.empty())
                until = std::min(until, m_retryAt);
            if (uncovered)
                until = std::min(until, m_checkpointDueAt);
            // Only what can be acted on wakes the writer: a checkpoint asked
            // for while there is nothing new to cover waits for new records.
            const auto wake = [this] {
                return m_stopping || (m_checkpointRequested && m_options.key && m_durableSeq > m_checkpointSeq)
                    || (!m_status.behind && !m_queue.empty());
            };
            if (until == Clock::time_point::max())
                m_changed.wait(lock, wake);
            else
                m_changed.wait_until(lock, until, wake);
            continue;
        }

        if (canWrite) {
            std::deque<Pending> batch;
            batch.swap(m_queue);
            m_inFlight = batch.size();
            lock.unlock();
            QString error;
            const size_t written = writeBatch(batch, &error);
            const quint64 seq = m_seq;
            lock.lock();
            m_inFlight = 0;
            m_done += written;
            m_status.written += written;
            m_durableSeq = seq;
            if (written < batch.size()) {
                // Back to the front of the queue, in order, for the next try.
                m_queue.insert(m_queue.begin(), std::make_move_iterator(batch.begin() + qsizetype(written)),
                               std::make_move_iterator(batch.end()));
                ++m_status.failedWrites;
                m_retryAt = Clock::now() + std::chrono::milliseconds(m_options.retryIntervalMs);
                if (!m_status.behind)
                    alert(u"%1; %2 audit record(s) kept in memory and retried"_s.arg(error).arg(m_queue.size()));
                m_status.behind = true;
                if (m_stopping) {
                    alert(u"audit log closing with %1 record(s) that could not be written: they are lost"_s.arg(
                        m_queue.size()));
                    m_done += m_queue.size();
                    m_queue.clear();
                }
            } else if (m_status.behind) {
                m_status.behind = false;
                alert(u"audit writes succeed again; the backlog is being written"_s);
            }
            m_changed.notify_all();
            continue;
        }

        m_checkpointRequested = false;
        lock.unlock();
        QString error;
        const bool ok = writeCheckpoint(&error);
        const quint64 seq = m_seq;
        lock.lock();
        if (ok) {
            m_checkpointSeq = seq;
            m_checkpointDueAt = Clock::now() + std::chrono::milliseconds(m_options.checkpointIntervalMs);
        } else {
            ++m_status.checkpointFailures;
            m_checkpointDueAt = Clock::now() + std::chrono::milliseconds(m_options.retryIntervalMs);
            if (m_stopping) {
                alert(error);
                m_checkpointSeq = seq; // give up: nothing more can be done at close
            }
        }
        m_changed.notify_all();
    }
}

size_t AuditLog::writeBatch(const std::deque<Pending> &batch, QString *error)
{
    const AuditKey *key = m_options.key ? &*m_options.key : nullptr;
    size_t written = 0;
    size_t inChunk = 0;
    QByteArray chunk;
    quint64 seqBefore = m_seq;
    QByteArray prevBefore = m_prev;
    QString tsBefore = m_lastTs;
    m_rotationFailing = false; // a failed rotation is tried again once per batch
    const auto writeOut = [&]() -> bool {
        if (chunk.isEmpty())
            return true;
        if (!writeChunk(chunk, error)) {
            m_seq = seqBefore;
            m_prev = prevBefore;
            m_lastTs = tsBefore;
            return false;
        }
        written += inChunk;
        inChunk = 0;
        chunk.clear();
        seqBefore = m_seq;
        prevBefore = m_prev;
        tsBefore = m_lastTs;
        return true;
    };
    for (const Pending &p : batch) {
        if (rotationDue(p.ts, chunk.size())) {
            if (!writeOut())
                return written;
            QString rotateError;
            if (!rotate(&rotateError)) {
                // Keep writing to the current file rather than lose records.
                if (!m_rotationAlerted)
                    alert(rotateError);
                m_rotationAlerted = true;
                m_rotationFailing = true;
            } else {
                m_rotationAlerted = false;
            }
        }
        const QByteArray line = AuditRecord::build(p.entry, m_seq + 1, m_prev, p.ts, key);
        if (m_fileBytes == 0 && chunk.isEmpty())
            m_fileDay = dayOf(p.ts);
        chunk += line;
        chunk += '\n';
        ++inChunk;
        ++m_seq;
        m_prev = AuditRecord::lineHash(line);
        m_lastTs = p.ts;
    }
    writeOut();
    return written;
}

bool AuditLog::writeChunk(const QByteArray &bytes, QString *error)
{
    if (!m_file->isOpen() && !m_file->open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered)) {
        if (error)
            *error = u"cannot open audit log '%1': %2"_s.arg(m_file->fileName(), m_file->errorString());
        return false;
    }
    // Straight to the descriptor (opened O_APPEND), so the reason for a
    // failure (ENOSPC, EIO, ...) is errno's and nothing stays buffered.
    const int fd = m_file->handle();
    const char *data = bytes.constData();
    qsizetype left = bytes.size();
    int failure = 0;
    while (left > 0) {
        const ssize_t n = ::write(fd, data, size_t(left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            failure = n < 0 ? errno : EIO;
            break;
        }
        data += n;
        left -= n;
    }
    if (failure == 0 && ::fdatasync(fd) != 0)
        failure = errno;
    if (failure != 0) {
        if (error)
            *error = u"audit write to '%1' failed: %2"_s.arg(m_file->fileName(),
                                                            QString::fromLocal8Bit(::strerror(failure)));
        // Take back a partial write so the chain still ends at a whole record.
        if (::ftruncate(fd, m_fileBytes) != 0)
            alert(u"cannot truncate '%1' after a failed write"_s.arg(m_file->fileName()));
        return false;
    }
    m_fileBytes += bytes.size();
    return true;
}

bool AuditLog::rotationDue(const QString &ts, qint64 pendingBytes) const
{
    if (m_rotationFailing || m_fileBytes + pendingBytes == 0)
        return false;
    if (m_options.rotateBytes > 0 && m_fileBytes + pendingBytes >= m_options.rotateBytes)
        return true;
    return m_options.rotateDaily && m_fileDay.isValid() && dayOf(ts) != m_fileDay;
}

bool AuditLog::rotate(QString *error)
{
    const QString target = QDir(m_dir).filePath(
        AuditFiles::rotatedName(QDateTime::fromString(m_lastTs, Qt::ISODateWithMs), m_seq));
    if (QFile::exists(target)) {
        *error = u"cannot rotate the audit log: '%1' exists"_s.arg(target);
        return false;
    }
    m_file->close();
    if (::rename(QFile::encodeName(m_activePath).constData(), QFile::encodeName(target).constData()) != 0) {
        *error = u"cannot rotate the audit log to '%1'"_s.arg(target);
        m_file->open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered);
        return false;
    }
    // The rotated file is complete; a crash from here on continues the chain
    // from it (see open()).
    AuditFiles::fsyncDirectory(m_dir);
    m_file = std::make_unique<QFile>(m_activePath);
    if (!m_file->open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered)) {
        *error = u"cannot open the new audit log '%1': %2"_s.arg(m_activePath, m_file->errorString());
        return false;
    }
    m_file->setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    AuditFiles::fsyncDirectory(m_dir);
    m_fileBytes = 0;
    m_fileDay = QDate();
    m_retentionDue = true;
    std::lock_guard lock(m_mutex);
    ++m_status.rotations;
    m_checkpointRequested = m_options.key.has_value();
    return true;
}

void AuditLog::applyRetention()
{
    const QDateTime cutoff = now().addDays(-m_options.retentionDays);
    const AuditKey *key = m_options.key ? &*m_options.key : nullptr;
    for (const AuditFiles::Rotated &r : AuditFiles::rotatedFiles(m_dir)) {
        if (r.lastRecordTime >= cutoff)
            break; // ordered by sequence, so by age too
        const AuditFiles::Tail tail = AuditFiles::readTail(r.path);
        if (tail.last.isEmpty())
            continue;
        // The deletion is recorded (and durable) before the file goes, so the
        // verifier can tell a file removed by policy from one that is missing.
        AuditEntry e;
        e.event = AuditEvent::FilesDeleted;
        e.actor = u"system"_s;
        e.detail = u"file=%1 last_seq=%2 last_line=%3 retention_days=%4"_s.arg(QFileInfo(r.path).fileName())
                       .arg(r.lastSeq)
                       .arg(QString::fromLatin1(AuditRecord::lineHash(tail.last)))
                       .arg(m_options.retentionDays);
        const QString ts = now().toString(Qt::ISODateWithMs);
        const QByteArray line = AuditRecord::build(e, m_seq + 1, m_prev, ts, key);
        QString error;
        if (!writeChunk(line + '\n', &error)) {
            alert(error); // tried again after the next rotation or start
            return;
        }
        ++m_seq;
        m_prev = AuditRecord::lineHash(line);
        m_lastTs = ts;
        if (m_fileDay.isNull())
            m_fileDay = dayOf(ts);
        if (!QFile::remove(r.path))
            alert(u"cannot delete expired audit file '%1'"_s.arg(r.path));
        AuditFiles::fsyncDirectory(m_dir);
        std::lock_guard lock(m_mutex);
        m_durableSeq = m_seq;
        ++m_status.written;
    }
}

bool AuditLog::writeCheckpoint(QString *error)
{
    const AuditCheckpoint cp = AuditCheckpoint::make(qint64(m_seq), m_prev, *m_options.key);
    const QByteArray json = cp.toJson();
    if (!writeCheckpointFile(QDir(m_dir).filePath(AuditFiles::kCheckpoint), json, error))
        return false;
    if (m_options.onCheckpoint)
        m_options.onCheckpoint(json);
    return true;
}

} // namespace medrelay::security
