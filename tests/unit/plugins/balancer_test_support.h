// Test doubles for driving balancer selectors directly: a backend set with stable ids (as the
// core computes them) and a load table standing in for the core's live connection counts.
// Header-only; test code, single thread unless a test says otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "postern/plugin/abi.h"

namespace postern::testing {

/** FNV-1a of "host:port", like upstream::backendId (kept independent of the core on purpose). */
inline std::uint64_t fnvId(const std::string& host, std::uint16_t port) {
    std::uint64_t h = 1469598103934665603ull;
    for (char c : host + ":" + std::to_string(port)) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

/** Backends 10.0.0.<i>:80 with the given weights (or `count` of weight 1). */
class BackendSet {
public:
    explicit BackendSet(std::vector<std::uint32_t> weights) { build(weights); }
    explicit BackendSet(std::size_t count) { build(std::vector<std::uint32_t>(count, 1)); }

    std::span<const postern_backend> views() const { return views_; }
    std::size_t size() const { return views_.size(); }
    std::uint64_t id(std::size_t i) const { return views_[i].id; }
    std::uint32_t weight(std::size_t i) const { return views_[i].weight; }

    /** The same set without backend `skip`, ids unchanged. */
    BackendSet without(std::size_t skip) const {
        BackendSet s;
        for (std::size_t i = 0; i < hosts_.size(); ++i)
            if (i != skip) s.add(*hosts_[i], views_[i].weight);
        return s;
    }
    /** The same set in reverse order. */
    BackendSet reversed() const {
        BackendSet s;
        for (std::size_t i = hosts_.size(); i-- > 0;) s.add(*hosts_[i], views_[i].weight);
        return s;
    }

private:
    BackendSet() = default;
    void build(const std::vector<std::uint32_t>& weights) {
        for (std::size_t i = 0; i < weights.size(); ++i)
            add("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), weights[i]);
    }
    void add(const std::string& host, std::uint32_t weight) {
        hosts_.push_back(std::make_unique<std::string>(host));
        const std::string& h = *hosts_.back();
        views_.push_back(postern_backend{
            fnvId(h, 80), {h.data(), h.size()}, {h.data(), h.size()}, 80, weight, 0, {nullptr, 0}});
    }

    std::vector<std::unique_ptr<std::string>> hosts_;  // stable addresses for the views
    std::vector<postern_backend> views_;
};

/** Live connection counts as the core would report them through postern_backend_load. */
class FakeLoad {
public:
    explicit FakeLoad(std::size_t n) : active_(n) {}
    const postern_backend_load& load() const { return load_; }
    std::uint32_t get(std::size_t i) const { return active_[i].load(); }
    void set(std::size_t i, std::uint32_t v) { active_[i].store(v); }
    void add(std::size_t i, int delta) { active_[i].fetch_add(static_cast<std::uint32_t>(delta)); }

private:
    static std::uint32_t activeOf(void* ctx, std::uint32_t i) noexcept {
        auto* self = static_cast<FakeLoad*>(ctx);
        return i < self->active_.size() ? self->active_[i].load() : 0;
    }
    std::vector<std::atomic<std::uint32_t>> active_;
    postern_backend_load load_{this, &activeOf};
};

/** Counts per backend index. */
using Histogram = std::map<std::uint32_t, int>;

/** Expected share of backend i: weight_i / sum of weights. */
inline double weightShare(const std::vector<std::uint32_t>& weights, std::size_t i) {
    double sum = 0;
    for (auto w : weights) sum += w;
    return weights[i] / sum;
}

}  // namespace postern::testing
