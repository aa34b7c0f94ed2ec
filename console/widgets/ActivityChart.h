#pragma once
// A small time-series chart of the server's activity (messages/s in and out on
// the left scale, connections on the right) over the last few minutes, drawn
// with QPainter from an ActivityHistory. Colours come from the palette, except
// the three series, which were picked to read on light and dark backgrounds.

#include "core/ActivityHistory.h"

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
};

// 1, 2, 5, 10, 20, 50 ... at or above `value` (at least `minimum`).
[[nodiscard]] double niceCeiling(double value, double minimum = 1.0);

} // namespace medrelay::console
