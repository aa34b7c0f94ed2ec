#include "widgets/Tables.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableView>

namespace medrelay::console::tables {

namespace {

// In single-selection mode a QTableView whose current row is removed selects
// the neighbouring row. For rooms and participants that would silently turn
// "the room I picked" into another one, so a removed row leaves nothing selected.
class StableTableView final : public QTableView
{
public:
    using QTableView::QTableView;

protected:
    void rowsAboutToBeRemoved(const QModelIndex &parent, int start, int end) override
    {
        const QModelIndex current = currentIndex();
        if (current.isValid() && current.parent() == parent && current.row() >= start && current.row() <= end)
            selectionModel()->clear();
        QTableView::rowsAboutToBeRemoved(parent, start, end);
    }
};

} // namespace

QTableView *make(QAbstractItemModel *model, QWidget *parent)
{
    auto *view = new StableTableView(parent);
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    // Tab leaves the table (to the next field) instead of walking its cells,
    // which in row selection would quietly select the next room.
    view->setTabKeyNavigation(false);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->setTextElideMode(Qt::ElideMiddle);
    view->verticalHeader()->setVisible(false);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + view->fontMetrics().height() / 2);
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setHighlightSections(false);
    view->setContextMenuPolicy(Qt::ActionsContextMenu);
    view->setMinimumWidth(view->fontMetrics().averageCharWidth() * 30);
    return view;
}

QLabel *title(const QString &text, QWidget *parent)
{
    auto *label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    return label;
}

void setColumnWidths(QTableView *view, const QStringList &samples)
{
    const QFontMetrics fm = view->fontMetrics();
    QFont headerFont = view->horizontalHeader()->font();
    headerFont.setBold(true);
    const QFontMetrics hfm(headerFont);
    const int padding = fm.averageCharWidth() * 3;
    const int sortIndicator = fm.height();
    for (int i = 0; i < samples.size(); ++i) {
        const QString header = view->model()->headerData(i, Qt::Horizontal).toString();
        const int width = std::max(fm.horizontalAdvance(samples.at(i)), hfm.horizontalAdvance(header) + sortIndicator);
        view->setColumnWidth(i, width + padding);
    }
}

void setStaleLook(QWidget *view, bool stale)
{
    if (!stale) {
        view->setPalette(QPalette());
        return;
    }
    QPalette p = view->palette();
    p.setColor(QPalette::Text, p.color(QPalette::Disabled, QPalette::Text));
    p.setColor(QPalette::HighlightedText, p.color(QPalette::Disabled, QPalette::HighlightedText));
    view->setPalette(p);
}

QString selectedKey(const QTableView *view, int role)
{
    const QModelIndexList rows = view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.constFirst().data(role).toString();
}

} // namespace medrelay::console::tables
