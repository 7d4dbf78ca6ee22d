FROM python:3.11-slim
RUN useradd --create-home --uid 10001 keyledger
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY commands commands
COPY projections projections
COPY api api
COPY workers workers
COPY keys keys
COPY keyledger keyledger
RUN pip install --no-cache-dir . && mkdir /data && chown keyledger /data
USER keyledger
ENV KEYLEDGER_DATA_DIR=/data KEYLEDGER_HOST=0.0.0.0
EXPOSE 47293
CMD ["keyledger", "serve"]
