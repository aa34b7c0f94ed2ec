#pragma once
// How the console writes durations, times and rates, in one place so the
// tables, the header and the log agree.

#include <QDateTime>
#include <QString>

namespace medrelay::console::format {

// "42 s", "3 min 05 s", "2 h 04 min", "3 d 02 h".
[[nodiscard]] QString duration(qint64 seconds);
// Local time: "14:03:27" today, "2024-05-02 14:03" otherwise; "-" when invalid.
[[nodiscard]] QString time(const QDateTime &t, const QDateTime &now = QDateTime::currentDateTime());
// "12.5", "1.2k", with one decimal at most.
[[nodiscard]] QString rate(double perSecond);
// "12.3 MiB".
[[nodiscard]] QString bytes(qint64 bytes);

} // namespace medrelay::console::format
