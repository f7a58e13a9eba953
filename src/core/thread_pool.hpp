#pragma once
// A fixed set of worker threads fed from one queue. Used twice per rank: a
// small pool for pread/pwrite (I/O latency hides behind other I/O) and one for
// the compute kernel. Tasks report failure through their futures.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace cocktail {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();  // finishes queued tasks, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  std::future<void> submit(std::function<void()> task);

  // Calls fn(begin, end) on `size()` contiguous slices of [0, n) in parallel
  // and waits; rethrows the first exception.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  void work();
  void stop();  // finishes queued tasks, then joins

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Waits for every task, then rethrows the first failure: no task is left
// running on buffers the caller is about to free.
inline void wait_all(std::vector<std::future<void>>& futures) {
  for (auto& f : futures) f.wait();
  for (auto& f : futures) f.get();
  futures.clear();
}

}  // namespace cocktail
