/*
 * scrape.h - reads one sample from a node's /metrics page (the admin
 * port), for tests that check a counter or gauge moved.
 */
#ifndef METASTORE_TEST_SCRAPE_H
#define METASTORE_TEST_SCRAPE_H

#include <stdint.h>

/* The value of the sample line "<sample> <value>" (sample is the name with
 * its {labels}, if any) on the /metrics page served at admin_port, or -1
 * when the page has no such line.  Fails the test when it cannot connect
 * or send. */
double e2e_metric(uint16_t admin_port, const char *sample);

#endif /* METASTORE_TEST_SCRAPE_H */
