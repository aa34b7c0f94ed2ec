#pragma once
// What the server configures about consultation history, and the one place
// that turns it into a HistoryStore (or into the reason start-up must stop).
//
//   off     sequencing and deduplication only, no message bodies (memory)
//   memory  bodies in memory, lost on restart; development without a key
//   sqlite  encrypted at rest in DATA_DIR/history.db; needs a key file

#include "store/HistoryStore.h"

#include <QLatin1StringView>

#include <memory>
#include <optional>

namespace medrelay::store {

enum class HistoryBackend : quint8 { Off, Memory, Sqlite };

[[nodiscard]] std::optional<HistoryBackend> historyBackendFromName(QStringView name);
[[nodiscard]] QLatin1StringView historyBackendName(HistoryBackend backend);

struct HistoryConfig
{
    HistoryBackend backend = HistoryBackend::Memory;
    QString dataDir; // sqlite: where history.db lives (created 0700 when missing)
    QString keyFile; // sqlite: required; see HistoryCipher::loadKeyFile
    StoreLimits limits;
    int dedupWindow = 256;      // appends whose keys are remembered, at least
    qint64 maxQueued = 100'000; // sqlite: queued calls before appends are refused
    int pruneIntervalMs = 60'000;
};

struct OpenedHistory
{
    std::unique_ptr<HistoryStore> store;
    QString error;   // when store is null: one line, fit for a start-up refusal
    QString warning; // store opened, but the operator should act (key file mode)
};

// Blocks until the store is open (for sqlite: key read and checked, schema
// ready). Call once at start-up.
[[nodiscard]] OpenedHistory openHistoryStore(const HistoryConfig &config);

} // namespace medrelay::store
