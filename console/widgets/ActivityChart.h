#pragma once
// A small time-series chart of the server's activity (messages/s in and out on
// the left scale, connections on the right) over the last few minutes, drawn
// with QPainter from an ActivityHistory. Colours come from the palette, except
// the three series, which were picked to read on light and dark backgrounds.
// Scales step by 1, 2 or 5 times a power of ten, so every label is a round
// number. While the server does not answer, the lines are faded and the
// chart says when they were last known.

#include "core/ActivityHistory.h"

#include <QDateTime>
#include <QWidget>

#include <chrono>

namespace medrelay::console {

class ActivityChart final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivityChart)

public:
    explicit ActivityChart(QWidget *parent = nullptr);

    // Not owned; the chart repaints when told (update()) after new samples.
    void setHistory(const ActivityHistory *history);
    void setSpan(std::chrono::seconds span);
    [[nodiscard]] std::chrono::seconds span() const { return m_span; }

    // Samples further apart than this are drawn with a gap (the server was unreachable).
    void setGapThreshold(std::chrono::milliseconds gap) { m_gap = gap; }

    void setStale(bool stale, const QDateTime &lastKnown);
    [[nodiscard]] bool isStale() const { return m_stale; }

    [[nodiscard]] QSize sizeHint() const override;
    [[nodiscard]] QSize minimumSizeHint() const override;

    static const QColor &messagesInColor();
    static const QColor &messagesOutColor();
    static const QColor &connectionsColor();

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    const ActivityHistory *m_history = nullptr;
    std::chrono::seconds m_span{300};
    std::chrono::milliseconds m_gap{3500};
    QDateTime m_lastKnown;
    bool m_stale = false;
};

// An axis from 0 to step * ticks where step is 1, 2 or 5 times a power of ten.
struct AxisScale
{
    double step = 1;
    int ticks = 1;
    [[nodiscard]] double top() const { return step * ticks; }
    // The label of tick `i` (0 ... ticks), with as many decimals as the step needs.
    [[nodiscard]] QString label(int i) const;
};

// The smallest 1-2-5 step at or above `value` (at least `minimum`).
[[nodiscard]] double niceStep(double value, double minimum = 0.0);
// At most `maxTicks` steps reaching `peak` (and at least `minimumTop`).
[[nodiscard]] AxisScale niceScale(double peak, int maxTicks = 5, double minimumTop = 5.0, bool integers = false);
// Exactly `ticks` steps reaching `peak` (for a second axis sharing the grid lines).
[[nodiscard]] AxisScale niceScaleWithTicks(double peak, int ticks, bool integers = false);

} // namespace medrelay::console
