// A process-wide pool of decode threads, started lazily and kept, so that parallel decode of small tensors pays off.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace huff8 {

class ThreadPool {
 public:
  // NOTE: never destroyed (threads are detached): a joinable std::thread at exit would abort.
  static ThreadPool& instance() {
    static ThreadPool* pool = new ThreadPool();
    return *pool;
  }

  // Runs fn(k) for k in [0, n); the caller runs k = 0 and waits for the rest.
  void run(uint64_t n, const std::function<void(uint64_t)>& fn) {
    if (n <= 1) {
      if (n == 1) fn(0);
      return;
    }
    std::lock_guard<std::mutex> oneCallAtATime(callMutex_);
    while (workers_ < n - 1) {
      std::thread(&ThreadPool::work, this).detach();
      workers_++;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      next_ = 1;
      total_ = n;
      pending_ = n - 1;
      generation_++;
    }
    wake_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
  }

 private:
  void work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      while (next_ < total_) {
        uint64_t k = next_++;
        const std::function<void(uint64_t)>* fn = fn_;
        lock.unlock();
        (*fn)(k);
        lock.lock();
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::mutex callMutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(uint64_t)>* fn_ = nullptr;
  uint64_t next_ = 0, total_ = 0, pending_ = 0, generation_ = 0, workers_ = 0;
};

}  // namespace huff8
