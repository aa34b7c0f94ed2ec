#pragma once
// One log record and the two structured forms it is written in: a JSON line
// (for log shippers) and journal fields (for systemd's journal). Pure
// functions, so the formats are unit-tested without a journal.

#include "logging/LogFields.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>
#include <QtGlobal>

namespace medrelay::logging {

struct LogRecord
{
    QtMsgType type = QtInfoMsg;
    QByteArray category; // e.g. medrelay.rooms
    QString message;
    QDateTime time; // UTC
    QList<FieldValue> fields;
    QByteArray file; // source location, when the build records it
    int line = 0;
    QByteArray function;
};

// syslog(3) priority: debug 7, info 6, warning 4, critical 3, fatal 2.
[[nodiscard]] int syslogPriority(QtMsgType type);
// debug, info, warning, error, fatal (the words the text format uses).
[[nodiscard]] QString levelName(QtMsgType type);

// {"time":...,"level":...,"priority":...,"category":...,"message":...,
// "event":...,"room_id":...,"connection_id":...} and a newline.
[[nodiscard]] QByteArray toJsonLine(const LogRecord &record);

// MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=, CODE_CATEGORY=, CODE_FILE/LINE/FUNC
// when known, then EVENT=, ROOM_ID=, CONNECTION_ID=: one "NAME=value" each.
[[nodiscard]] QList<QByteArray> toJournalFields(const LogRecord &record, const QByteArray &identifier);

} // namespace medrelay::logging
