#pragma once

#include <pthread.h>

namespace kbinder::host {

// A mutex that spins briefly before it sleeps (glibc's adaptive kind). For locks held a
// microsecond or two by a few busy threads, as the embedded store's is: sleeping and waking on
// every collision would cost more than the work it guards (two workers bind about a third
// faster on the store with it; bench/README.md).
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

  void lock() { pthread_mutex_lock(&mutex_); }
  bool try_lock() { return pthread_mutex_trylock(&mutex_) == 0; }
  void unlock() { pthread_mutex_unlock(&mutex_); }

 private:
  pthread_mutex_t mutex_;
};

}  // namespace kbinder::host
