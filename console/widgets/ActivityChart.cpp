#include "widgets/ActivityChart.h"

#include "core/Format.h"

#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace medrelay::console {

using namespace Qt::StringLiterals;

double niceStep(double value, double minimum)
{
    value = std::max(value, minimum);
    if (!(value > 0))
        return 1.0;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 5.0, 10.0}) {
        if (value <= step * magnitude * (1 + 1e-9))
            return step * magnitude;
    }
    return 10.0 * magnitude;
}

AxisScale niceScale(double peak, int maxTicks, double minimumTop, bool integers)
{
    maxTicks = std::max(1, maxTicks);
    peak = std::max({peak, minimumTop, 0.0});
    AxisScale scale;
    scale.step = niceStep(peak / maxTicks, integers ? 1.0 : 0.0);
    scale.ticks = std::max(1, static_cast<int>(std::ceil(peak / scale.step - 1e-9)));
    return scale;
}

AxisScale niceScaleWithTicks(double peak, int ticks, bool integers)
{
    AxisScale scale;
    scale.ticks = std::max(1, ticks);
    scale.step = niceStep(std::max(peak, 0.0) / scale.ticks, integers ? 1.0 : 0.0);
    return scale;
}

QString AxisScale::label(int i) const
{
    const double value = step * i;
    if (i == 0)
        return u"0"_s;
    if (step >= 1000) {
        const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step / 1000.0) + 1e-9)));
        return u"%1k"_s.arg(value / 1000.0, 0, 'f', decimals);
    }
    const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
    return QString::number(value, 'f', decimals);
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

void ActivityChart::setStale(bool stale, const QDateTime &lastKnown)
{
    m_stale = stale;
    m_lastKnown = lastKnown;
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
    // Faded lines read as "not now" in light and dark palettes alike.
    const auto shown = [this](QColor c) {
        if (m_stale)
            c.setAlphaF(0.35f);
        return c;
    };
    for (const Series &s : legend) {
        const QRect swatch(x, legendY + lineH / 4, lineH, lineH / 2);
        p.fillRect(swatch, shown(s.color));
        x += lineH + pad / 2;
        const QString text = u"%1 %2"_s.arg(s.label, s.value);
        p.setPen(pal.color(m_stale ? QPalette::PlaceholderText : QPalette::WindowText));
        p.drawText(QPoint(x, legendY + fm.ascent()), text);
        x += fm.horizontalAdvance(text) + lineH;
    }

    // Plot area.
    const QDateTime end = any ? m_history->latest().time : QDateTime::currentDateTimeUtc();
    const QDateTime start = end.addSecs(-m_span.count());
    const AxisScale left = niceScale(any ? m_history->peakMessagesPerSecond(start) : 0, 5, 5.0);
    const AxisScale right = niceScaleWithTicks(any ? m_history->peakConnections(start) : 0, left.ticks, true);
    const double msgMax = left.top();
    const double connMax = right.top();
    const QString leftWidest = left.label(left.ticks);
    const QString rightWidest = right.label(right.ticks);
    const QRect plot(pad + fm.horizontalAdvance(leftWidest) + pad, legendY + lineH + pad,
                     width() - (pad + fm.horizontalAdvance(leftWidest) + pad) - (pad + fm.horizontalAdvance(rightWidest) + pad),
                     height() - (legendY + lineH + pad) - (lineH + pad));
    if (plot.width() < 20 || plot.height() < 20)
        return;
    p.fillRect(plot, pal.color(QPalette::Base));

    // Grid and scales.
    QColor grid = pal.color(QPalette::WindowText);
    grid.setAlphaF(0.12f);
    for (int i = 0; i <= left.ticks; ++i) {
        const int y = plot.bottom() - (plot.height() * i) / left.ticks;
        p.setPen(QPen(grid, 1));
        p.drawLine(plot.left(), y, plot.right(), y);
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(QRect(0, y - lineH / 2, plot.left() - pad / 2, lineH), Qt::AlignRight | Qt::AlignVCenter,
                   left.label(i));
        p.drawText(QRect(plot.right() + pad / 2, y - lineH / 2, width(), lineH), Qt::AlignLeft | Qt::AlignVCenter,
                   right.label(i));
    }
    const qint64 spanSec = m_span.count();
    const qint64 tickEvery = spanSec > 600 ? 300 : (spanSec > 120 ? 60 : 30);
    int labelsEndAt = width(); // labels run right to left; one that would touch its neighbour is left out
    for (qint64 ago = 0; ago <= spanSec; ago += tickEvery) {
        const int xx = plot.right() - static_cast<int>(static_cast<double>(plot.width()) * static_cast<double>(ago) / static_cast<double>(spanSec));
        p.setPen(QPen(grid, 1));
        p.drawLine(xx, plot.top(), xx, plot.bottom());
        p.setPen(pal.color(QPalette::PlaceholderText));
        const QString label = ago == 0 ? tr("now") : tr("-%1 min").arg(static_cast<double>(ago) / 60.0, 0, 'g', 2);
        const int w = fm.horizontalAdvance(label);
        const int labelX = std::clamp(xx - w / 2, plot.left(), plot.right() - w);
        if (labelX + w + pad > labelsEndAt)
            continue;
        p.drawText(labelX, plot.bottom() + pad / 2 + fm.ascent(), label);
        labelsEndAt = labelX;
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
               shown(connectionsColor()), false);
    drawSeries([](const ActivitySample &s) { return s.messagesOutPerSecond; }, msgMax, shown(messagesOutColor()),
               false);
    drawSeries([](const ActivitySample &s) { return s.messagesInPerSecond; }, msgMax, shown(messagesInColor()),
               true);

    if (m_stale && m_lastKnown.isValid()) {
        const QString note = tr("Last known at %1").arg(format::time(m_lastKnown));
        QRect box = fm.boundingRect(note).adjusted(-pad / 2, -pad / 4, pad / 2, pad / 4);
        box.moveTopRight(plot.topRight() + QPoint(-pad / 2, pad / 2));
        p.fillRect(box, pal.color(QPalette::Base));
        p.setPen(pal.color(QPalette::WindowText));
        p.drawText(box, Qt::AlignCenter, note);
    }
}

} // namespace medrelay::console
