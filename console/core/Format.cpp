#include "core/Format.h"

#include <QLocale>

namespace medrelay::console::format {

using namespace Qt::StringLiterals;

QString duration(qint64 seconds)
{
    if (seconds < 0)
        seconds = 0;
    const qint64 d = seconds / 86400;
    const qint64 h = (seconds % 86400) / 3600;
    const qint64 m = (seconds % 3600) / 60;
    const qint64 s = seconds % 60;
    const auto two = [](qint64 v) { return u"%1"_s.arg(v, 2, 10, QChar(u'0')); };
    if (d > 0)
        return u"%1 d %2 h"_s.arg(d).arg(two(h));
    if (h > 0)
        return u"%1 h %2 min"_s.arg(h).arg(two(m));
    if (m > 0)
        return u"%1 min %2 s"_s.arg(m).arg(two(s));
    return u"%1 s"_s.arg(s);
}

QString time(const QDateTime &t, const QDateTime &now)
{
    if (!t.isValid())
        return u"-"_s;
    const QDateTime local = t.toLocalTime();
    if (local.date() == now.toLocalTime().date())
        return local.toString(u"HH:mm:ss"_s);
    return local.toString(u"yyyy-MM-dd HH:mm"_s);
}

QString rate(double perSecond)
{
    if (perSecond >= 10'000)
        return u"%1k"_s.arg(perSecond / 1000.0, 0, 'f', 1);
    if (perSecond >= 100)
        return QString::number(qRound64(perSecond));
    return QString::number(perSecond, 'f', 1);
}

QString bytes(qint64 value)
{
    return QLocale::system().formattedDataSize(value, 1, QLocale::DataSizeIecFormat);
}

} // namespace medrelay::console::format
