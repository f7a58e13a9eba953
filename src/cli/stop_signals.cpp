#include "cli/stop_signals.hpp"

#include <signal.h>

#include <atomic>

namespace cocktail {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs an async-signal-safe flag");

void record_stop(int sig) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, sig);
}

void set_action(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // pread/pwrite in flight carry on
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  set_action(record_stop);
}

StopSignals::~StopSignals() { set_action(SIG_DFL); }

const char* StopSignals::requested() const {
  switch (g_stop_signal.load()) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return nullptr;
  }
}

}  // namespace cocktail
