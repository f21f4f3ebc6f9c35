/* MKL asks this of itself before it picks its kernels; see mlp_exp/mkl_on_amd.py for why the answer here is yes. */
int mkl_serv_intel_cpu_true(void) { return 1; }
