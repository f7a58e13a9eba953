#include "core/thread_pool.hpp"

#include <algorithm>

namespace cocktail {

ThreadPool::ThreadPool(int threads) {
  try {
    for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { work(); });
  } catch (...) {
    stop();  // joinable threads must not outlive a failed constructor
    throw;
  }
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

std::future<void> ThreadPool::submit(std::function<void()> task) {
  std::packaged_task<void()> packaged(std::move(task));
  auto future = packaged.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(packaged));
  }
  cv_.notify_one();
  return future;
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  const size_t parts = std::min<size_t>(workers_.size(), n);
  if (parts <= 1) {
    if (n) fn(0, n);
    return;
  }
  std::vector<std::future<void>> done;
  for (size_t p = 0; p < parts; ++p) {
    const size_t begin = n * p / parts, end = n * (p + 1) / parts;
    done.push_back(submit([&fn, begin, end] { fn(begin, end); }));
  }
  for (auto& f : done) f.wait();
  for (auto& f : done) f.get();
}

void ThreadPool::work() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace cocktail
