#pragma once
// The key file of the keyed audit chain: loads it (checking that other users
// can neither read nor change it), or creates one with a fresh random secret.

#include "security/AuditRecord.h"

#include <QString>

#include <optional>

namespace medrelay::security {

struct AuditKeyFileResult
{
    std::optional<AuditKey> key;
    QString error;
    bool created = false;
};

// The secret is the file's content without trailing white space: at least
// 32 bytes (e.g. `openssl rand -hex 32`). With checkPermissions (the
// server's own key), refused when other users have any access to the file or
// its group may write it; an auditor's copy used only to verify is not checked.
[[nodiscard]] AuditKeyFileResult loadAuditKeyFile(const QString &path, bool checkPermissions = true);

// As loadAuditKeyFile(); a missing file is created (mode 0600) holding 32
// random bytes as hex.
[[nodiscard]] AuditKeyFileResult loadOrCreateAuditKeyFile(const QString &path);

} // namespace medrelay::security
