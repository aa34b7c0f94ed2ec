#include "widgets/ActivityChart.h"

#include "core/Format.h"

#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace medrelay::console {

using namespace Qt::StringLiterals;

double niceCeiling(double value, double minimum)
{
    value = std::max(value, minimum);
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 5.0, 10.0}) {
        if (value <= step * magnitude + 1e-9)
            return step * magnitude;
    }
    return 10.0 * magnitude;
}

// Mid-saturation hues that keep a contrast ratio above 3:1 against both a
// white and a near-black base.
const QColor &ActivityChart::messagesInColor()
{
    static const QColor c(0x2f, 0x80, 0xed);
    return c;
}

const QColor &ActivityChart::messagesOutColor()
{
    static const QColor c(0xe0, 0x7b, 0x1a);
    return c;
}

const QColor &ActivityChart::connectionsColor()
{
    static const QColor c(0x1f, 0xa8, 0x5a);
    return c;
}

ActivityChart::ActivityChart(QWidget *parent)
    : QWidget(parent)
{
    setAttribute(Qt::WA_OpaquePaintEvent);
    setBackgroundRole(QPalette::Base);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setToolTip(tr("Messages per second received and sent (left scale) and open connections (right scale)"));
}

void ActivityChart::setHistory(const ActivityHistory *history)
{
    m_history = history;
    update();
}

void ActivityChart::setSpan(std::chrono::seconds span)
{
    m_span = std::max(span, std::chrono::seconds{10});
    update();
}

QSize ActivityChart::sizeHint() const
{
    const int h = fontMetrics().height();
    return {h * 30, h * 14};
}

QSize ActivityChart::minimumSizeHint() const
{
    const int h = fontMetrics().height();
    return {h * 16, h * 8};
}

void ActivityChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Window));

    const QFontMetrics fm = fontMetrics();
    const int lineH = fm.height();
    const int pad = lineH / 2;

    // Legend on top.
    struct Series
    {
        QString label;
        QColor color;
        QString value;
    };
    const bool any = m_history && !m_history->isEmpty();
    const ActivitySample last = any ? m_history->latest() : ActivitySample{};
    const QList<Series> legend{
        {tr("Messages in/s"), messagesInColor(), any ? format::rate(last.messagesInPerSecond) : u"-"_s},
        {tr("Messages out/s"), messagesOutColor(), any ? format::rate(last.messagesOutPerSecond) : u"-"_s},
        {tr("Connections"), connectionsColor(), any ? QString::number(last.connections) : u"-"_s},
    };
    int x = pad;
    const int legendY = pad;
    for (const Series &s : legend) {
        const QRect swatch(x, legendY + lineH / 4, lineH, lineH / 2);
        p.fillRect(swatch, s.color);
        x += lineH + pad / 2;
        const QString text = u"%1 %2"_s.arg(s.label, s.value);
        p.setPen(pal.color(QPalette::WindowText));
        p.drawText(QPoint(x, legendY + fm.ascent()), text);
        x += fm.horizontalAdvance(text) + lineH;
    }

    // Plot area.
    const QDateTime end = any ? m_history->latest().time : QDateTime::currentDateTimeUtc();
    const QDateTime start = end.addSecs(-m_span.count());
    const double msgMax = niceCeiling(any ? m_history->peakMessagesPerSecond(start) * 1.1 : 0, 5.0);
    const double connMax = niceCeiling(any ? m_history->peakConnections(start) * 1.1 : 0, 5.0);
    const QString leftWidest = format::rate(msgMax);
    const QString rightWidest = QString::number(static_cast<qint64>(connMax));
    const QRect plot(pad + fm.horizontalAdvance(leftWidest) + pad, legendY + lineH + pad,
                     width() - (pad + fm.horizontalAdvance(leftWidest) + pad) - (pad + fm.horizontalAdvance(rightWidest) + pad),
                     height() - (legendY + lineH + pad) - (lineH + pad));
    if (plot.width() < 20 || plot.height() < 20)
        return;
    p.fillRect(plot, pal.color(QPalette::Base));

    // Grid and scales.
    constexpr int kRows = 4;
    QColor grid = pal.color(QPalette::WindowText);
    grid.setAlphaF(0.12f);
    for (int i = 0; i <= kRows; ++i) {
        const int y = plot.bottom() - (plot.height() * i) / kRows;
        p.setPen(QPen(grid, 1));
        p.drawLine(plot.left(), y, plot.right(), y);
        p.setPen(pal.color(QPalette::PlaceholderText));
        const QString left = format::rate(msgMax * i / kRows);
        const QString right = QString::number(static_cast<qint64>(std::round(connMax * i / kRows)));
        p.drawText(QRect(0, y - lineH / 2, plot.left() - pad / 2, lineH), Qt::AlignRight | Qt::AlignVCenter, left);
        p.drawText(QRect(plot.right() + pad / 2, y - lineH / 2, width(), lineH), Qt::AlignLeft | Qt::AlignVCenter, right);
    }
    const qint64 spanSec = m_span.count();
    const qint64 tickEvery = spanSec > 600 ? 300 : (spanSec > 120 ? 60 : 30);
    for (qint64 ago = 0; ago <= spanSec; ago += tickEvery) {
        const int xx = plot.right() - static_cast<int>(static_cast<double>(plot.width()) * static_cast<double>(ago) / static_cast<double>(spanSec));
        p.setPen(QPen(grid, 1));
        p.drawLine(xx, plot.top(), xx, plot.bottom());
        p.setPen(pal.color(QPalette::PlaceholderText));
        const QString label = ago == 0 ? tr("now") : tr("-%1 min").arg(static_cast<double>(ago) / 60.0, 0, 'g', 2);
        const int w = fm.horizontalAdvance(label);
        p.drawText(std::clamp(xx - w / 2, plot.left(), plot.right() - w), plot.bottom() + pad / 2 + fm.ascent(), label);
    }
    QColor frame = pal.color(QPalette::WindowText);
    frame.setAlphaF(0.3f);
    p.setPen(QPen(frame, 1));
    p.setBrush(Qt::NoBrush);
    p.drawRect(plot.adjusted(0, 0, -1, -1));

    if (!any) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(plot, Qt::AlignCenter, tr("Waiting for data\u2026"));
        return;
    }

    const auto xFor = [&](const QDateTime &t) {
        const double ago = static_cast<double>(t.msecsTo(end)) / 1000.0;
        return plot.right() - static_cast<double>(plot.width()) * ago / static_cast<double>(spanSec);
    };
    const auto yFor = [&](double v, double max) {
        return plot.bottom() - static_cast<double>(plot.height()) * std::clamp(v / max, 0.0, 1.0);
    };

    // One path per series, broken where samples are missing.
    const auto drawSeries = [&](auto value, double max, const QColor &color, bool fill) {
        QList<QPolygonF> runs(1);
        QDateTime previous;
        for (int i = 0; i < m_history->size(); ++i) {
            const ActivitySample &s = m_history->at(i);
            if (s.time < start.addSecs(-2))
                continue;
            if (previous.isValid() && previous.msecsTo(s.time) > m_gap.count() && !runs.last().isEmpty())
                runs.append(QPolygonF());
            runs.last().append(QPointF(xFor(s.time), yFor(value(s), max)));
            previous = s.time;
        }
        p.save();
        p.setClipRect(plot);
        for (const QPolygonF &run : std::as_const(runs)) {
            if (run.isEmpty())
                continue;
            if (fill && run.size() > 1) {
                QPolygonF area = run;
                area.append(QPointF(run.last().x(), plot.bottom()));
                area.append(QPointF(run.first().x(), plot.bottom()));
                QColor under = color;
                under.setAlphaF(0.18f);
                p.setPen(Qt::NoPen);
                p.setBrush(under);
                p.drawPolygon(area);
            }
            p.setPen(QPen(color, 2.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
            p.setBrush(Qt::NoBrush);
            if (run.size() == 1)
                p.drawPoint(run.first());
            else
                p.drawPolyline(run);
        }
        p.restore();
    };
    drawSeries([](const ActivitySample &s) { return static_cast<double>(s.connections); }, connMax,
               connectionsColor(), false);
    drawSeries([](const ActivitySample &s) { return s.messagesOutPerSecond; }, msgMax, messagesOutColor(), false);
    drawSeries([](const ActivitySample &s) { return s.messagesInPerSecond; }, msgMax, messagesInColor(), true);
}

} // namespace medrelay::console
