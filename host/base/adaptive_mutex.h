// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <pthread.h>

#include <thread>

namespace kbinder::host {

// A mutex that spins before it sleeps, for locks held a microsecond or two by many threads on
// few cores (the embedded store's), where sleeping and waking on every collision costs more
// than the work it guards. lock() tries kSpins times, a few pauses apart (some tens of
// microseconds: longer than glibc's own spin, which gives up before a write in progress is
// done), then leaves it to glibc's adaptive lock. On one core the holder cannot run while
// another thread spins: there it does not spin. What it pays, measured: bench/HISTORY.md.
// Meets Lockable, so std::lock_guard, std::unique_lock and std::condition_variable_any take it.
class AdaptiveMutex {
 public:
  AdaptiveMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&mutex_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~AdaptiveMutex() { pthread_mutex_destroy(&mutex_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;

  void lock() {
    for (int i = 0; i < spins_; ++i) {
      if (pthread_mutex_trylock(&mutex_) == 0) return;
      for (int j = 0; j < kPausesPerTry; ++j) pause();
    }
    pthread_mutex_lock(&mutex_);
  }
  bool try_lock() { return pthread_mutex_trylock(&mutex_) == 0; }
  void unlock() { pthread_mutex_unlock(&mutex_); }

 private:
  static constexpr int kSpins = 500;
  static constexpr int kPausesPerTry = 4;  // fewer tries: less pulling at the holder's line
  // The processor's spin-wait hint (lets the other hyperthread run, saves power).
  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  const int spins_ = std::thread::hardware_concurrency() > 1 ? kSpins : 0;
  pthread_mutex_t mutex_;
};

}  // namespace kbinder::host
