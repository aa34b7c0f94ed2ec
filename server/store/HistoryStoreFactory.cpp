#include "store/HistoryStoreFactory.h"

#include "store/HistoryCipher.h"
#include "store/MemoryHistoryStore.h"
#include "store/SqliteHistoryStore.h"

namespace medrelay::store {

using namespace Qt::StringLiterals;

std::optional<HistoryBackend> historyBackendFromName(QStringView name)
{
    for (HistoryBackend b : {HistoryBackend::Off, HistoryBackend::Memory, HistoryBackend::Sqlite}) {
        if (name.compare(historyBackendName(b), Qt::CaseInsensitive) == 0)
            return b;
    }
    return std::nullopt;
}

QLatin1StringView historyBackendName(HistoryBackend backend)
{
    switch (backend) {
    case HistoryBackend::Off: return "off"_L1;
    case HistoryBackend::Memory: return "memory"_L1;
    case HistoryBackend::Sqlite: return "sqlite"_L1;
    }
    return "off"_L1;
}

OpenedHistory openHistoryStore(const HistoryConfig &config)
{
    OpenedHistory out;
    switch (config.backend) {
    case HistoryBackend::Off:
    case HistoryBackend::Memory: {
        MemoryHistoryStore::Options options;
        options.limits = config.limits;
        if (config.backend == HistoryBackend::Off)
            options.limits.maxMessagesPerRoom = 0;
        options.dedupWindow = config.dedupWindow;
        options.pruneIntervalMs = config.pruneIntervalMs;
        out.store = std::make_unique<MemoryHistoryStore>(std::move(options));
        return out;
    }
    case HistoryBackend::Sqlite: break;
    }

    if (config.dataDir.isEmpty()) {
        out.error = u"stored history needs a data directory"_s;
        return out;
    }
    if (config.keyFile.isEmpty()) {
        out.error = u"stored history is encrypted and needs a key file (--history-key-file); make one with"
                    " `head -c 32 /dev/urandom > history.key && chmod 0600 history.key`"_s;
        return out;
    }
    HistoryCipher::LoadedKey key = HistoryCipher::loadKeyFile(config.keyFile);
    if (!key.error.isEmpty()) {
        out.error = key.error;
        return out;
    }
    out.warning = key.warning;
    QString error;
    std::unique_ptr<HistoryCipher> cipher = HistoryCipher::create(key.key, &error);
    key.key.fill('\0');
    if (!cipher) {
        out.error = error;
        return out;
    }
    SqliteHistoryStore::Options options;
    options.dataDir = config.dataDir;
    options.limits = config.limits;
    options.dedupWindow = config.dedupWindow;
    options.maxQueued = config.maxQueued;
    options.pruneIntervalMs = config.pruneIntervalMs;
    SqliteHistoryStore::Opened opened = SqliteHistoryStore::open(std::move(options), std::move(cipher));
    if (!opened.store) {
        out.error = opened.error;
        return out;
    }
    out.store = std::move(opened.store);
    return out;
}

} // namespace medrelay::store
