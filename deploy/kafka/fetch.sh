#!/usr/bin/env bash
# Resolve Apache Kafka's jars from Maven Central into the cache (once; later runs reuse them).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
command -v java >/dev/null || die "Java 17 is needed to run Kafka (apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null || { say "installing Maven"; apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$DEPLOY_DIR/kafka/pom.xml")
libs="$CACHE_DIR/kafka-$version/libs"
if [ -f "$libs/.complete" ]; then echo "$libs"; exit 0; fi
say "fetching Apache Kafka $version from Maven Central"
mkdir -p "$libs"
mvn -q -B -f "$DEPLOY_DIR/kafka/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$libs" -DincludeScope=runtime >&2
ls "$libs"/kafka_2.13-"$version".jar >/dev/null || die "Kafka jars missing after fetch"
touch "$libs/.complete"
echo "$libs"
