#include "logging/LogHandler.h"

#include "logging/LogFields.h"
#include "logging/LogRecord.h"

#include <QDateTime>
#include <QMutex>
#include <QString>
#include <QVarLengthArray>

#include <cstdio>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#endif

#ifdef MEDRELAY_HAVE_SYSTEMD
// The record's own source location, not this file's, is the one to keep.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#endif

namespace medrelay::logging {

namespace {

Sink g_sink = Sink::Text;
QByteArray g_identifier = QByteArrayLiteral("medrelay");
QBasicMutex g_writeLock;

void writeStderr(const QByteArray &bytes)
{
    const QMutexLocker lock(&g_writeLock);
    std::fwrite(bytes.constData(), 1, static_cast<size_t>(bytes.size()), stderr);
    std::fflush(stderr);
}

void writeText(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    QByteArray line = qFormatLogMessage(type, context, message).toUtf8();
    line.append('\n');
    writeStderr(line);
}

LogRecord makeRecord(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    LogRecord r;
    r.type = type;
    r.category = QByteArray(context.category ? context.category : "default");
    r.message = message;
    r.time = QDateTime::currentDateTimeUtc();
    r.fields = currentFields();
    if (context.file) {
        r.file = QByteArray(context.file);
        r.line = context.line;
    }
    if (context.function)
        r.function = QByteArray(context.function);
    return r;
}

#ifdef MEDRELAY_HAVE_SYSTEMD
bool sendJournal(const LogRecord &record)
{
    const QList<QByteArray> fields = toJournalFields(record, g_identifier);
    QVarLengthArray<iovec, 16> iov;
    for (const QByteArray &f : fields)
        iov.append({const_cast<char *>(f.constData()), static_cast<size_t>(f.size())});
    return sd_journal_sendv(iov.constData(), static_cast<int>(iov.size())) >= 0;
}
#endif

void handleMessage(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    switch (g_sink) {
    case Sink::Text:
        writeText(type, context, message);
        return;
    case Sink::Json:
        writeStderr(toJsonLine(makeRecord(type, context, message)));
        return;
    case Sink::Journal:
#ifdef MEDRELAY_HAVE_SYSTEMD
        if (sendJournal(makeRecord(type, context, message)))
            return;
#endif
        // The journal went away (or never was): keep the record on stderr.
        writeText(type, context, message);
        return;
    }
}

} // namespace

bool journalSupported()
{
#ifdef MEDRELAY_HAVE_SYSTEMD
    return true;
#else
    return false;
#endif
}

bool isJournalStream(const QByteArray &journalStream, int fd)
{
#ifdef Q_OS_UNIX
    const qsizetype colon = journalStream.indexOf(':');
    if (colon <= 0)
        return false;
    bool okDev = false;
    bool okIno = false;
    const qulonglong dev = journalStream.left(colon).toULongLong(&okDev);
    const qulonglong ino = journalStream.mid(colon + 1).toULongLong(&okIno);
    if (!okDev || !okIno)
        return false;
    struct stat st = {};
    if (::fstat(fd, &st) != 0)
        return false;
    return static_cast<qulonglong>(st.st_dev) == dev && static_cast<qulonglong>(st.st_ino) == ino;
#else
    Q_UNUSED(journalStream)
    Q_UNUSED(fd)
    return false;
#endif
}

Sink automaticSink()
{
#ifdef Q_OS_UNIX
    if (journalSupported() && isJournalStream(qgetenv("JOURNAL_STREAM"), fileno(stderr)))
        return Sink::Journal;
#endif
    return Sink::Text;
}

Sink installMessageHandler(Sink sink, const QByteArray &identifier)
{
    if (sink == Sink::Journal && !journalSupported())
        sink = Sink::Text;
    g_sink = sink;
    g_identifier = identifier;
    qInstallMessageHandler(handleMessage);
    return sink;
}

} // namespace medrelay::logging
