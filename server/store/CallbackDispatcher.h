#pragma once
// Delivers a store's callbacks on the thread of each call's context object,
// in the order they are handed over, and never to a context that was
// destroyed in the meantime, whichever thread hands them over.
//
// A QPointer checked on the store's thread and then used races with the
// context's destruction on its own thread. Here every context is tracked from
// the first call that names it: a direct connection to its destroyed()
// signal marks it gone under the same mutex that posting holds, so a context
// is either alive for the whole of QMetaObject::invokeMethod(), or known to
// be gone and skipped. Events posted to it before that are discarded by
// ~QObject with its other posted events.
//
// Consecutive callbacks for the same context travel as one posted event (a
// batch of appends for the room service costs one event, not thousands); a
// callback that destroys its context stops the rest of its event.

#include <QHash>
#include <QMutex>
#include <QObject>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace medrelay::store {

class CallbackDispatcher final
{
public:
    // One tracked context. Held by every pending call that names it.
    class Target
    {
    public:
        [[nodiscard]] QObject *object() const { return m_object; }

    private:
        friend class CallbackDispatcher;
        explicit Target(QObject *object) : m_object(object) {}
        QObject *m_object = nullptr;
        bool m_alive = true; // guarded by the dispatcher's mutex
    };
    using TargetPtr = std::shared_ptr<Target>;

    struct Delivery
    {
        TargetPtr target;
        std::function<void()> callback;
    };

    CallbackDispatcher();
    ~CallbackDispatcher();
    Q_DISABLE_COPY_MOVE(CallbackDispatcher)

    // Call on any thread while `context` is alive (the caller's own context).
    // nullptr for a null context: its callbacks are dropped.
    [[nodiscard]] TargetPtr track(QObject *context);

    // Posts each callback, queued, to its target's thread, in order; those
    // of a destroyed or null target are dropped. Callable from any thread.
    void post(std::vector<Delivery> deliveries);

private:
    void forget(const Target *target);

    QMutex m_mutex;
    QHash<QObject *, TargetPtr> m_targets;
    // Context of the destroyed() connections. Declared last so that it goes
    // first, taking the connections with it, before the mutex and the map.
    QObject m_receiver;
};

} // namespace medrelay::store
