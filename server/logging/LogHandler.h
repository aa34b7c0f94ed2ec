#pragma once
// The process's Qt message handler: every qDebug/qCInfo/qCWarning ... record
// goes to one sink, with the structured fields of the current LogScope.
//   Text     one line on stderr, as the message pattern says (the default)
//   Json     one JSON object per line on stderr, for log shippers
//   Journal  systemd's journal with fields (sd_journal_sendv)
// Runs on whichever thread logs; writes are serialised.

#include <QByteArray>

namespace medrelay::logging {

enum class Sink { Text, Json, Journal };

// Installs the handler; returns the sink in use (Journal falls back to Text
// where this build has no journal support).
Sink installMessageHandler(Sink sink, const QByteArray &identifier);

// Journal when standard error is the service's journal stream (systemd sets
// JOURNAL_STREAM to its device and inode) and this build can write to the
// journal; Text otherwise.
[[nodiscard]] Sink automaticSink();

// True when `journalStream` ("<device>:<inode>", as in JOURNAL_STREAM) names
// the file open as `fd`. A child whose stderr was redirected elsewhere
// inherits the variable, so the variable alone proves nothing.
[[nodiscard]] bool isJournalStream(const QByteArray &journalStream, int fd);

// Whether this build writes to the journal natively (libsystemd).
[[nodiscard]] bool journalSupported();

} // namespace medrelay::logging
