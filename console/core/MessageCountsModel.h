#pragma once
// How many messages of each kind a room has relayed (chat, whiteboard,
// signalling), as the server counts them: counts only, never content. One
// row per kind, updated in place.

#include "core/KeyedTableModel.h"

#include <QMap>

namespace medrelay::console {

struct MessageCount
{
    QString kind; // the wire name, e.g. telemedicine_chat_message
    qint64 count = 0;
    friend bool operator==(const MessageCount &, const MessageCount &) = default;
};

class MessageCountsModel final : public KeyedTableModel<MessageCount>
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MessageCountsModel)

public:
    enum Column { KindColumn, CountColumn, ColumnCount };
    enum Role { SortRole = Qt::UserRole + 1, KindRole };

    explicit MessageCountsModel(QObject *parent = nullptr);

    void setCounts(const QMap<QString, qint64> &counts);
    void clear() { clearItems(); }
    [[nodiscard]] qint64 count(const QString &kind) const;
    [[nodiscard]] qint64 total() const;
    // "Chat", "Whiteboard", "Offer", ... for a wire name.
    [[nodiscard]] static QString label(const QString &kind);

    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    [[nodiscard]] QString keyOf(const MessageCount &item) const override { return item.kind; }
};

} // namespace medrelay::console
