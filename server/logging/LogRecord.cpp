#include "logging/LogRecord.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace medrelay::logging {

using namespace Qt::StringLiterals;

int syslogPriority(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return 7;
    case QtInfoMsg:
        return 6;
    case QtWarningMsg:
        return 4;
    case QtCriticalMsg:
        return 3;
    case QtFatalMsg:
        return 2;
    }
    return 6;
}

QString levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return u"debug"_s;
    case QtInfoMsg:
        return u"info"_s;
    case QtWarningMsg:
        return u"warning"_s;
    case QtCriticalMsg:
        return u"error"_s;
    case QtFatalMsg:
        return u"fatal"_s;
    }
    return u"info"_s;
}

QByteArray toJsonLine(const LogRecord &record)
{
    QJsonObject o;
    o.insert(u"time"_s, record.time.toUTC().toString(Qt::ISODateWithMs));
    o.insert(u"level"_s, levelName(record.type));
    o.insert(u"priority"_s, syslogPriority(record.type));
    o.insert(u"category"_s, QString::fromUtf8(record.category));
    o.insert(u"message"_s, record.message);
    for (const FieldValue &f : record.fields)
        o.insert(jsonName(f.field), f.value);
    QByteArray line = QJsonDocument(o).toJson(QJsonDocument::Compact);
    line.append('\n');
    return line;
}

QList<QByteArray> toJournalFields(const LogRecord &record, const QByteArray &identifier)
{
    QList<QByteArray> out;
    out.reserve(8 + record.fields.size());
    out.append("MESSAGE=" + record.message.toUtf8());
    out.append("PRIORITY=" + QByteArray::number(syslogPriority(record.type)));
    out.append("SYSLOG_IDENTIFIER=" + identifier);
    if (!record.category.isEmpty())
        out.append("CODE_CATEGORY=" + record.category);
    if (!record.file.isEmpty()) {
        out.append("CODE_FILE=" + record.file);
        out.append("CODE_LINE=" + QByteArray::number(record.line));
    }
    if (!record.function.isEmpty())
        out.append("CODE_FUNC=" + record.function);
    for (const FieldValue &f : record.fields)
        out.append(QByteArray(journalName(f.field)) + '=' + f.value.toUtf8());
    return out;
}

} // namespace medrelay::logging
