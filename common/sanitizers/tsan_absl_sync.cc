// ThreadSanitizer annotations for Debian's (uninstrumented) abseil synchronization library.
//
// TSan only sees the synchronization it intercepts (pthread, atomics in instrumented code) or
// that code announces through its annotation API. Debian's libabsl_synchronization.so is built
// without -fsanitize=thread, so absl::Mutex, absl::CondVar and absl::Notification are invisible
// to it, and every ABSL_GUARDED_BY member shared by two threads would be reported as a race.
// Abseil announces itself when it is compiled with TSan (ABSL_TSAN_MUTEX_* in mutex.cc); this
// file does the same from outside: it defines the out-of-line members of those classes in the
// test executable, which the dynamic linker prefers over the library's (symbol interposition,
// also for calls from inside libabsl and libgrpc), announces each operation with the
// __tsan_mutex_* / __tsan_acquire / __tsan_release API and forwards to the library's own
// definition (dlsym RTLD_NEXT).
//
// The pre/post pairs follow abseil's own annotations: accesses between them — the evaluation of
// an absl::Condition, which abseil may run in the unlocking thread on behalf of a waiter — are
// ignored, and the lock is taken (released) at post_lock (pre_unlock). Waits that release and
// re-take the mutex (Await, CondVar::Wait) are an unlock followed by a lock.
//
// Linked into every test binary of a PARLEY_SANITIZE=thread build (cmake/ParleyTest.cmake), and
// nowhere else. The mangled names are those of abseil 20220623 as Debian 12 builds it (inline
// namespace absl::debian3); a name that does not resolve aborts with a message, so an abseil
// upgrade cannot silently turn the annotations off.
#include <dlfcn.h>
#include <link.h>
#include <sanitizer/tsan_interface.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* sym = dlsym(RTLD_NEXT, mangled);
  if (sym == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in abseil; update the mangled names\n",
                 mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(sym);
}

#define PARLEY_REAL(type, mangled) static const auto real = Real<type>(mangled);

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Notification;
using absl::Time;

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock_failed;

// Only calls from the test executable itself — Parley's code and the inline parts of the abseil,
// gRPC and GoogleTest headers, all instrumented — are announced. Calls from inside libgrpc and
// the other uninstrumented libraries are not: TSan never saw how the memory of their mutexes was
// handed between their threads, so announcing their locks would only report their own memory.
struct Range {
  uintptr_t begin = UINTPTR_MAX;
  uintptr_t end = 0;
};

int AddExecutableSegments(dl_phdr_info* info, size_t, void* data) {
  auto* range = static_cast<Range*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    range->begin = std::min(range->begin, begin);
    range->end = std::max(range->end, static_cast<uintptr_t>(begin + ph.p_memsz));
  }
  return 1;  // the first object is the executable
}

bool FromExecutable(const void* return_address) {
  static const Range range = [] {
    Range r;
    dl_iterate_phdr(AddExecutableSegments, &r);
    return r;
  }();
  const auto pc = reinterpret_cast<uintptr_t>(return_address);
  return pc >= range.begin && pc < range.end;
}

// Some entry points call others inside the library (CondVar::WaitWithTimeout calls
// WaitWithDeadline, Notification::Notify calls Mutex::Lock…), and those calls are interposed too:
// only the outermost call of a thread is announced.
thread_local int depth = 0;
struct Outermost {
  explicit Outermost(const void* caller) : outer(depth++ == 0 && FromExecutable(caller)) {}
  ~Outermost() { --depth; }
  const bool outer;
};

// The mutex is released and later re-taken inside one library call.
void UnlockForWait(Mutex* mu) { __tsan_mutex_pre_unlock(mu, 0); }
void RelockAfterWait(Mutex* mu) {
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  PARLEY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  PARLEY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_lock(this, kRead);
  real(this);
  __tsan_mutex_post_lock(this, kRead, 0);
}

bool Mutex::TryLock() {
  PARLEY_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_lock(this, kTry);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, kTry | (locked ? 0 : kTryFailed), 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  PARLEY_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_lock(this, kRead | kTry);
  const bool locked = real(this);
  __tsan_mutex_post_lock(this, kRead | kTry | (locked ? 0 : kTryFailed), 0);
  return locked;
}

void Mutex::Unlock() {
  PARLEY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  PARLEY_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  __tsan_mutex_post_unlock(this, kRead);
}

void Mutex::LockWhen(const Condition& cond) {
  PARLEY_REAL(void (*)(Mutex*, const Condition&),
              "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond);
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  PARLEY_REAL(void (*)(Mutex*, const Condition&),
              "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond);
  __tsan_mutex_pre_lock(this, kRead);
  real(this, cond);
  __tsan_mutex_post_lock(this, kRead, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, timeout);
  __tsan_mutex_pre_lock(this, 0);
  const bool met = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, deadline);
  __tsan_mutex_pre_lock(this, 0);
  const bool met = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, timeout);
  __tsan_mutex_pre_lock(this, kRead);
  const bool met = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, kRead, 0);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, deadline);
  __tsan_mutex_pre_lock(this, kRead);
  const bool met = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, kRead, 0);
  return met;
}

void Mutex::Await(const Condition& cond) {
  PARLEY_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond);
  UnlockForWait(this);
  real(this, cond);
  RelockAfterWait(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, timeout);
  UnlockForWait(this);
  const bool met = real(this, cond, timeout);
  RelockAfterWait(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  PARLEY_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, cond, deadline);
  UnlockForWait(this);
  const bool met = real(this, cond, deadline);
  RelockAfterWait(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  PARLEY_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, mu);
  UnlockForWait(mu);
  real(this, mu);
  RelockAfterWait(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  PARLEY_REAL(bool (*)(CondVar*, Mutex*, Duration),
              "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, mu, timeout);
  UnlockForWait(mu);
  const bool timed_out = real(this, mu, timeout);
  RelockAfterWait(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  PARLEY_REAL(bool (*)(CondVar*, Mutex*, Time),
              "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, mu, deadline);
  UnlockForWait(mu);
  const bool timed_out = real(this, mu, deadline);
  RelockAfterWait(mu);
  return timed_out;
}

// Notification: Notify() releases, the waits acquire. HasBeenNotified() is inline (an acquire
// load of notified_yet_, instrumented in our code), so Notify also releases on that atomic.
void Notification::Notify() {
  PARLEY_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  __tsan_release(this);
  __tsan_release(&notified_yet_);
  real(this);
}

void Notification::WaitForNotification() const {
  PARLEY_REAL(void (*)(const Notification*),
              "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  PARLEY_REAL(bool (*)(const Notification*, Duration),
              "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, timeout);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  PARLEY_REAL(bool (*)(const Notification*, Time),
              "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  Outermost call(__builtin_return_address(0));
  if (!call.outer) return real(this, deadline);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
