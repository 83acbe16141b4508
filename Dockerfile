# One image for every service; the container's command picks the target.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p jobtracker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 jobtracker \
    && mkdir -p /var/lib/jobtracker && chown jobtracker /var/lib/jobtracker
COPY --from=build /src/target/release/jobtracker /usr/local/bin/jobtracker
COPY schema/supergraph.graphql /etc/jobtracker/supergraph.graphql
USER jobtracker
ENV SUPERGRAPH_PATH=/etc/jobtracker/supergraph.graphql LOG_FORMAT=json DATA_DIR=/var/lib/jobtracker
ENTRYPOINT ["jobtracker", "run"]
CMD ["--target", "all"]
