#pragma once
// How the console's tables look and behave, in one place: row selection that
// never jumps to a neighbour when the selected row goes, Tab that leaves the
// table, widths from typical contents, and the greyed look of stale data.

#include <QStringList>

class QAbstractItemModel;
class QLabel;
class QTableView;
class QWidget;

namespace medrelay::console::tables {

[[nodiscard]] QTableView *make(QAbstractItemModel *model, QWidget *parent);
[[nodiscard]] QLabel *title(const QString &text, QWidget *parent);
// Initial column widths from sample contents and the header text.
void setColumnWidths(QTableView *view, const QStringList &samples);
// Stale rows are drawn in the disabled text colour: still readable, plainly not live.
void setStaleLook(QWidget *view, bool stale);
// The `role` value of the selected row ("" when none is selected).
[[nodiscard]] QString selectedKey(const QTableView *view, int role);

} // namespace medrelay::console::tables
