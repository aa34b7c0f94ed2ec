#include "store/CallbackDispatcher.h"

#include <QMetaObject>
#include <QMutexLocker>
#include <QPointer>

namespace medrelay::store {

CallbackDispatcher::CallbackDispatcher() = default;

CallbackDispatcher::~CallbackDispatcher() = default;

CallbackDispatcher::TargetPtr CallbackDispatcher::track(QObject *context)
{
    if (context == nullptr)
        return nullptr;
    TargetPtr target;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_targets.constFind(context);
        if (it != m_targets.cend())
            return it.value();
        target.reset(new Target(context));
        m_targets.insert(context, target);
    }
    // Outside the mutex: the slot takes it, and connect() takes Qt's own locks.
    const Target *raw = target.get();
    QObject::connect(context, &QObject::destroyed, &m_receiver, [this, raw] { forget(raw); }, Qt::DirectConnection);
    return target;
}

void CallbackDispatcher::forget(const Target *target)
{
    QMutexLocker lock(&m_mutex);
    const auto it = m_targets.find(target->m_object);
    if (it != m_targets.end() && it.value().get() == target) {
        it.value()->m_alive = false;
        m_targets.erase(it);
    }
}

void CallbackDispatcher::post(std::vector<Delivery> deliveries)
{
    QMutexLocker lock(&m_mutex);
    for (std::size_t i = 0; i < deliveries.size();) {
        const TargetPtr target = deliveries[i].target;
        std::size_t end = i + 1;
        while (end < deliveries.size() && deliveries[end].target == target)
            ++end;
        if (target && target->m_alive) {
            if (end == i + 1) {
                QMetaObject::invokeMethod(target->m_object, std::move(deliveries[i].callback), Qt::QueuedConnection);
            } else {
                std::vector<std::function<void()>> run;
                run.reserve(end - i);
                for (std::size_t k = i; k < end; ++k)
                    run.push_back(std::move(deliveries[k].callback));
                QMetaObject::invokeMethod(
                    target->m_object,
                    [context = target->m_object, run = std::move(run)] {
                        // On the context's thread now, where it is destroyed:
                        // a QPointer is exact here.
                        const QPointer<QObject> alive(context);
                        for (const auto &fn : run) {
                            if (alive.isNull())
                                return;
                            fn();
                        }
                    },
                    Qt::QueuedConnection);
            }
        }
        i = end;
    }
}

} // namespace medrelay::store
