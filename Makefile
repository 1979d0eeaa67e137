# dsmvm: a distributed hypervisor. `make run` boots the tuned guest, `make test` tests it all.
# Big outputs (QEMU, kernels) are cached outside the repository by scripts/*.sh, keyed by
# a hash of their inputs, so these targets are cheap when nothing changed.
SHELL := /bin/bash
BUILD := build

.PHONY: all deps deps-if-missing qemu guest guest-stock guest-tuned guest-rdma initramfs dsm prof run \
        run-single rdma-vm test test-unit test-integration bench soak clean distclean help

all: qemu guest initramfs dsm prof

help:
	@echo "make deps        install Debian packages (root)"
	@echo "make             build QEMU, the stock, tuned and rdma guest kernels, the initramfs, host/dsm"
	@echo "make run         boot the tuned guest on 2 nodes (WORKLOAD=name NODES=n VARIANT=stock|tuned)"
	@echo "make run-single  the same guest on one plain QEMU process"
	@echo "make test        unit and integration tests"
	@echo "make rdma-vm     the DSM over soft-RoCE verbs in one TCG guest (tests/integration/rdma-vm.sh)"
	@echo "make bench       benchmarks: distributed guest against one node (QUICK=1: a subset)"
	@echo "make soak        coherence and memory checks on 2 and 3 nodes, 10 minutes each (not in make test)"

deps:
	@bash scripts/deps.sh

# Every build step first installs what is missing (as root; silent, about a second,
# when nothing is), so that on a fresh machine `make run` and `make test` are all the set-up.
deps-if-missing:
	@bash scripts/deps.sh --quiet

qemu: deps-if-missing
	@bash scripts/build-qemu.sh

# rdma: the soft-RoCE test VM's kernel (tests/integration/rdma-vm.sh, issue 12)
guest: guest-stock guest-tuned guest-rdma
guest-stock: deps-if-missing
	@bash scripts/build-guest.sh stock
guest-tuned: deps-if-missing
	@bash scripts/build-guest.sh tuned
guest-rdma: deps-if-missing
	@bash scripts/build-guest.sh rdma

initramfs: deps-if-missing
	@bash scripts/build-initramfs.sh

prof:
	@$(MAKE) -s -C profiling

dsm: deps-if-missing
	@if [ -f host/dsm/Makefile ]; then $(MAKE) -s -C host/dsm all; fi

# The tuned guest on 2 nodes of this machine, node 0's console here.
WORKLOAD ?= hello
NODES ?= 2
VARIANT ?= tuned
PROFILE ?=
run: qemu guest-$(VARIANT) initramfs $(if $(PROFILE),prof)
	@host/launcher/dsmvm-launch --nodes $(NODES) --variant $(VARIANT) --workload $(WORKLOAD) \
		$(if $(PROFILE),--profile)

# The same guest on one ordinary QEMU process (no DSM), for comparison.
run-single: qemu guest-$(VARIANT) initramfs
	@bash scripts/run-guest.sh --variant $(VARIANT) --workload $(WORKLOAD)

# The DSM's tests over real verbs (rdma_rxe) inside one plain TCG guest; also part of make test.
rdma-vm: qemu guest-rdma dsm
	@bash tests/integration/rdma-vm.sh

test: all
	@bash tests/run-all.sh

# host/dsm's fault-latency floor, then the whole-system benchmarks of bench/ (QUICK=1: the
# subset marked quick, under 10 minutes). Results in build/bench/.
QUICK ?=
bench: qemu guest-tuned $(if $(QUICK),,guest-stock) initramfs dsm
	@$(MAKE) -s -C host/dsm bench
	@bash bench/run.sh $(if $(QUICK),--quick)

# Long coherence and memory soak on 2 and 3 nodes (SOAK_SECONDS per node count, default 600).
soak: qemu guest-tuned initramfs
	@bash tests/soak/soak.sh

clean:
	rm -rf $(BUILD)

# Also drops the build cache kept outside the repository.
distclean: clean
	rm -rf $${DSMVM_CACHE:-/var/cache/dsmvm}
