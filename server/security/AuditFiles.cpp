#include "security/AuditFiles.h"

#include "security/AuditRecord.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

namespace medrelay::security::AuditFiles {

using namespace Qt::StringLiterals;

namespace {

constexpr qint64 kTailBytes = 64 * 1024;
const QString kTimeFormat = u"yyyyMMdd'T'HHmmss'Z'"_s;

} // namespace

QString rotatedName(const QDateTime &lastRecordTime, quint64 lastSeq)
{
    return u"audit-%1-%2.jsonl"_s.arg(lastRecordTime.toUTC().toString(kTimeFormat)).arg(lastSeq);
}

std::optional<Rotated> parseRotated(const QString &path)
{
    static const QRegularExpression re(u"^audit-(\\d{8}T\\d{6}Z)-(\\d{1,19})\\.jsonl$"_s);
    const auto m = re.match(QFileInfo(path).fileName());
    if (!m.hasMatch())
        return std::nullopt;
    Rotated r;
    r.path = path;
    r.lastRecordTime = QDateTime::fromString(m.captured(1), kTimeFormat);
    r.lastRecordTime.setTimeSpec(Qt::UTC);
    bool ok = false;
    r.lastSeq = m.captured(2).toULongLong(&ok);
    if (!ok || !r.lastRecordTime.isValid())
        return std::nullopt;
    return r;
}

QList<Rotated> rotatedFiles(const QString &dir)
{
    QList<Rotated> out;
    const QDir d(dir);
    for (const QString &name : d.entryList({u"audit-*.jsonl"_s}, QDir::Files)) {
        if (auto r = parseRotated(d.filePath(name)))
            out.append(*r);
    }
    std::sort(out.begin(), out.end(), [](const Rotated &a, const Rotated &b) { return a.lastSeq < b.lastSeq; });
    return out;
}

QStringList chainFiles(const QString &dir)
{
    QStringList out;
    for (const Rotated &r : rotatedFiles(dir))
        out.append(r.path);
    const QString active = QDir(dir).filePath(kActive);
    if (QFileInfo::exists(active))
        out.append(active);
    return out;
}

Tail readTail(const QString &path)
{
    Tail t;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return t;
    t.readable = true;
    const qint64 size = f.size();
    if (size == 0)
        return t;
    const qint64 start = qMax<qint64>(0, size - kTailBytes);
    f.seek(start);
    const QByteArray tail = f.readAll();
    if (!tail.endsWith('\n')) {
        t.endsWithNewline = false;
        return t;
    }
    QList<QByteArray> lines = tail.chopped(1).split('\n');
    if (start > 0 && lines.size() > 1)
        lines.removeFirst(); // may begin mid-line
    t.last = lines.constLast();
    if (lines.size() >= 2)
        t.beforeLast = lines.at(lines.size() - 2);
    return t;
}

QByteArray readFirstLine(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QByteArray line = f.readLine(AuditRecord::kMaxLineBytes + 1);
    if (line.endsWith('\n'))
        line.chop(1);
    return line;
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

} // namespace medrelay::security::AuditFiles
