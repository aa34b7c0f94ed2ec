#include "security/AuditLog.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLockFile>
#include <QMutexLocker>
#include <QTextStream>

#include <fcntl.h>
#include <unistd.h>

namespace medrelay::security {

using namespace Qt::StringLiterals;

namespace {

constexpr qsizetype kMaxLineBytes = 16 * 1024; // records are well under 2 KiB
constexpr qsizetype kTailBytes = 64 * 1024;
constexpr qsizetype kMaxDetail = 200;
constexpr qsizetype kMaxId = 140;
const QByteArray kZeroHash(64, '0');

// Every key a record has, in the (sorted) order the compact writer emits.
constexpr QLatin1StringView kKeys[] = {"actor"_L1, "address"_L1, "appointmentId"_L1, "connectionId"_L1,
                                       "detail"_L1, "event"_L1, "hash"_L1, "prev"_L1,
                                       "role"_L1, "roomId"_L1, "seq"_L1, "ts"_L1};

QByteArray sha256Hex(QByteArrayView data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
}

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

bool isLowerHex64(const QString &s)
{
    if (s.size() != 64)
        return false;
    for (const QChar c : s) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f')))
            return false;
    }
    return true;
}

struct LineCheck
{
    bool ok = false;
    QString reason;
    qint64 seq = 0;
    QByteArray prev;
};

// Checks one line on its own: shape, canonical form and its own hash.
LineCheck checkLine(const QByteArray &line)
{
    LineCheck r;
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        r.reason = u"not a JSON object"_s;
        return r;
    }
    QJsonObject obj = doc.object();
    if (obj.size() != qsizetype(std::size(kKeys))) {
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
    if (!auditEventFromName(obj.value("event"_L1).toString())) {
        r.reason = u"unknown event"_s;
        return r;
    }
    const QString ts = obj.value("ts"_L1).toString();
    if (!QDateTime::fromString(ts, Qt::ISODateWithMs).isValid()) {
        r.reason = u"invalid ts"_s;
        return r;
    }
    const QString hash = obj.value("hash"_L1).toString();
    const QString prev = obj.value("prev"_L1).toString();
    if (!isLowerHex64(hash) || !isLowerHex64(prev)) {
        r.reason = u"invalid hash or prev"_s;
        return r;
    }
    if (QJsonDocument(obj).toJson(QJsonDocument::Compact) != line) {
        r.reason = u"not in canonical form (edited by hand?)"_s;
        return r;
    }
    obj.remove("hash"_L1);
    if (sha256Hex(QJsonDocument(obj).toJson(QJsonDocument::Compact)) != hash.toLatin1()) {
        r.reason = u"hash does not match the record's content"_s;
        return r;
    }
    r.ok = true;
    r.seq = seq.toInteger();
    r.prev = prev.toLatin1();
    return r;
}

bool fsyncDirectory(const QString &dir)
{
    const int fd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
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
    }
    return "unknown"_L1;
}

std::optional<AuditEvent> auditEventFromName(QStringView name)
{
    for (int i = 0; i <= int(AuditEvent::AdminRefused); ++i) {
        const auto e = AuditEvent(i);
        if (name == auditEventName(e))
            return e;
    }
    return std::nullopt;
}

AuditLog::AuditLog() = default;

AuditLog::~AuditLog()
{
    {
        std::lock_guard lock(m_queueMutex);
        m_stopping = true;
        m_queueChanged.notify_all();
    }
    if (m_writer.joinable())
        m_writer.join(); // writes what is still queued
}

QString AuditLog::filePath() const
{
    return m_file->fileName();
}

quint64 AuditLog::lastSeq() const
{
    QMutexLocker lock(&m_mutex);
    return m_seq;
}

AuditLog::Opened AuditLog::open(const QString &dataDir, OpenMode mode)
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
    const QString path = dir.filePath(kFileName);

    std::unique_ptr<AuditLog> log(new AuditLog);
    log->m_lock = std::make_unique<QLockFile>(path + ".lock"_L1);
    if (!log->m_lock->tryLock(0)) {
        qint64 pid = 0;
        QString host, app;
        log->m_lock->getLockInfo(&pid, &host, &app);
        out.error = u"audit log '%1' is in use by another process (pid %2 on %3)"_s.arg(path).arg(pid).arg(host);
        return out;
    }

    log->m_prev = kZeroHash;
    QFile existing(path);
    if (existing.exists() && existing.size() > 0) {
        if (!existing.open(QIODevice::ReadOnly)) {
            out.error = u"cannot read audit log '%1': %2"_s.arg(path, existing.errorString());
            return out;
        }
        const qint64 size = existing.size();
        const qint64 start = qMax<qint64>(0, size - kTailBytes);
        existing.seek(start);
        const QByteArray tail = existing.readAll();
        existing.close();

        QString broken;
        if (!tail.endsWith('\n')) {
            broken = u"the last record is incomplete (no line end)"_s;
        } else {
            QList<QByteArray> lines = tail.chopped(1).split('\n');
            if (start > 0 && lines.size() > 1)
                lines.removeFirst(); // may begin mid-line
            const QByteArray &last = lines.constLast();
            const LineCheck c = checkLine(last);
            if (!c.ok) {
                broken = u"the last record is invalid: %1"_s.arg(c.reason);
            } else if (lines.size() >= 2 && c.prev != sha256Hex(lines.at(lines.size() - 2))) {
                broken = u"the last record does not chain to the one before"_s;
            } else if (lines.size() == 1 && start == 0 && (c.seq != 1 || c.prev != kZeroHash)) {
                broken = u"the only record does not start a chain"_s;
            } else {
                log->m_seq = quint64(c.seq);
                log->m_prev = sha256Hex(last);
            }
        }
        if (!broken.isEmpty()) {
            if (mode == OpenMode::ContinueChain) {
                out.error = u"audit log '%1' is broken: %2. Check it with --verify-audit, then move it aside "
                            "to start a new chain"_s.arg(path, broken);
                return out;
            }
            const QString aside = path + ".broken-"_L1
                + QDateTime::currentDateTimeUtc().toString(u"yyyyMMddTHHmmsszzzZ"_s);
            if (!QFile::rename(path, aside)) {
                out.error = u"audit log '%1' is broken (%2) and cannot be moved aside"_s.arg(path, broken);
                return out;
            }
            out.movedAside = aside;
            log->m_seq = 0;
            log->m_prev = kZeroHash;
        }
    }

    const bool created = !QFile::exists(path);
    log->m_file = std::make_unique<QFile>(path);
    if (!log->m_file->open(QIODevice::WriteOnly | QIODevice::Append)) {
        out.error = u"cannot open audit log '%1' for appending: %2"_s.arg(path, log->m_file->errorString());
        return out;
    }
    if (created) {
        log->m_file->setPermissions(QFile::ReadOwner | QFile::WriteOwner);
        fsyncDirectory(dir.absolutePath()); // make the new name itself durable
    }
    out.log = std::move(log);
    return out;
}

QByteArray AuditLog::buildLine(const AuditEntry &entry, const QString &ts) const
{
    QJsonObject rec;
    rec.insert("seq"_L1, qint64(m_seq + 1));
    rec.insert("ts"_L1, ts);
    rec.insert("event"_L1, auditEventName(entry.event));
    rec.insert("actor"_L1, textOrNull(entry.actor.isEmpty() ? u"system"_s : entry.actor, kMaxId));
    rec.insert("role"_L1, textOrNull(entry.role, 32));
    rec.insert("connectionId"_L1,
               entry.connectionId.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(entry.connectionId.left(64)));
    rec.insert("address"_L1, textOrNull(entry.address, 64));
    rec.insert("roomId"_L1, textOrNull(entry.roomId, kMaxId));
    rec.insert("appointmentId"_L1,
               entry.appointmentId ? QJsonValue(*entry.appointmentId) : QJsonValue(QJsonValue::Null));
    rec.insert("detail"_L1, detailOrNull(entry.detail));
    rec.insert("prev"_L1, QString::fromLatin1(m_prev));
    const QByteArray canonical = QJsonDocument(rec).toJson(QJsonDocument::Compact);
    rec.insert("hash"_L1, QString::fromLatin1(sha256Hex(canonical)));
    return QJsonDocument(rec).toJson(QJsonDocument::Compact);
}

bool AuditLog::writeAndSync(const QList<QByteArray> &lines, QString *error)
{
    const qint64 before = m_file->size();
    QByteArray bytes;
    for (const QByteArray &l : lines) {
        bytes += l;
        bytes += '\n';
    }
    const bool written = m_file->write(bytes) == bytes.size() && m_file->flush()
        && ::fdatasync(m_file->handle()) == 0;
    if (!written) {
        if (error)
            *error = u"audit write to '%1' failed: %2"_s.arg(m_file->fileName(), m_file->errorString());
        // Take back a partial write so the chain still ends at a whole record.
        m_file->resize(before);
    }
    return written;
}

bool AuditLog::append(const AuditEntry &entry, QString *error)
{
    QMutexLocker lock(&m_mutex);
    const QByteArray line = buildLine(entry, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    if (!writeAndSync({line}, error))
        return false;
    ++m_seq;
    m_prev = sha256Hex(line);
    return true;
}

void AuditLog::post(const AuditEntry &entry)
{
    std::lock_guard lock(m_queueMutex);
    if (!m_writer.joinable())
        m_writer = std::thread([this] { writerLoop(); });
    m_queue.push_back({entry, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)});
    ++m_posted;
    m_queueChanged.notify_all();
}

bool AuditLog::flush(int timeoutMs)
{
    std::unique_lock lock(m_queueMutex);
    const quint64 target = m_posted;
    const quint64 failedBefore = m_failed;
    const bool reached = m_queueChanged.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                                                 [&] { return m_done >= target; });
    return reached && m_failed == failedBefore;
}

quint64 AuditLog::failedRecords() const
{
    std::lock_guard lock(m_queueMutex);
    return m_failed;
}

void AuditLog::writerLoop()
{
    for (;;) {
        std::deque<Pending> batch;
        {
            std::unique_lock lock(m_queueMutex);
            m_queueChanged.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty())
                return; // stopping, and everything is written
            batch.swap(m_queue);
        }
        bool ok = false;
        {
            QMutexLocker lock(&m_mutex);
            const quint64 seqBefore = m_seq;
            const QByteArray prevBefore = m_prev;
            QList<QByteArray> lines;
            lines.reserve(qsizetype(batch.size()));
            for (const Pending &p : batch) {
                lines.append(buildLine(p.entry, p.ts));
                ++m_seq;
                m_prev = sha256Hex(lines.constLast());
            }
            QString error;
            ok = writeAndSync(lines, &error);
            if (!ok) {
                m_seq = seqBefore;
                m_prev = prevBefore;
                qWarning("%s (%lld records lost)", qPrintable(error), qlonglong(batch.size()));
            }
        }
        std::lock_guard lock(m_queueMutex);
        m_done += batch.size();
        if (!ok)
            m_failed += batch.size();
        m_queueChanged.notify_all();
    }
}

AuditVerifyResult AuditLog::verify(const QString &path)
{
    AuditVerifyResult r;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        r.reason = u"cannot open: %1"_s.arg(file.errorString());
        return r;
    }
    QByteArray prevHash = kZeroHash;
    qint64 expectedSeq = 1;
    qint64 lineNo = 0;
    while (!file.atEnd()) {
        ++lineNo;
        QByteArray line = file.readLine(kMaxLineBytes + 1);
        auto fail = [&](const QString &why) {
            r.badLine = lineNo;
            r.reason = why;
            return r;
        };
        if (!line.endsWith('\n'))
            return fail(line.size() > kMaxLineBytes ? u"line too long"_s : u"incomplete last record"_s);
        line.chop(1);
        const LineCheck c = checkLine(line);
        if (!c.ok)
            return fail(c.reason);
        if (c.seq != expectedSeq)
            return fail(u"seq is %1, expected %2 (record missing or out of order)"_s.arg(c.seq).arg(expectedSeq));
        if (c.prev != prevHash)
            return fail(u"prev does not match the previous record"_s);
        prevHash = sha256Hex(line);
        ++expectedSeq;
        r.records = lineNo;
    }
    r.ok = true;
    r.lastLineHash = r.records > 0 ? prevHash : QByteArray();
    return r;
}

int runVerifyAuditCommand(const QString &path, QTextStream &out)
{
    if (!QFileInfo(path).isReadable()) {
        out << "audit log " << path << ": cannot read file" << Qt::endl;
        return 2;
    }
    const AuditVerifyResult r = AuditLog::verify(path);
    if (r.ok) {
        out << "audit log " << path << ": OK, " << r.records << " records, last line sha256 "
            << (r.lastLineHash.isEmpty() ? QByteArray("-") : r.lastLineHash) << Qt::endl;
        return 0;
    }
    if (r.badLine == 0) {
        out << "audit log " << path << ": cannot read file: " << r.reason << Qt::endl;
        return 2;
    }
    out << "audit log " << path << ": BROKEN at line " << r.badLine << ": " << r.reason << " ("
        << r.records << " records intact before it)" << Qt::endl;
    return 1;
}

} // namespace medrelay::security
