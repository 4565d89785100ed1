{
  "targets": [
    {
      "target_name": "skiff_native",
      "sources": ["addon/native.c", "addon/bpf.c", "addon/netlink.c", "addon/remote.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      "target_name": "skiff-init",
      "type": "executable",
      "sources": ["addon/init.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "ldflags": ["-static-libgcc"]
    },
    {
      "target_name": "skiff-supervisor",
      "type": "executable",
      "sources": ["addon/supervisor.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "skiff-front",
      "type": "executable",
      "sources": ["addon/front.c", "addon/front-remote.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
