#ifndef SHADOWDIFF_CLIBPCAP_SHIM_H
#define SHADOWDIFF_CLIBPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
