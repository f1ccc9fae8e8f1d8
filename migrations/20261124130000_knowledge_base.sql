-- migrate:up

-- The knowledge base the researcher searches: documents (per company, or the
-- shared library when company_id is NULL), chunked into passages with
-- PostgreSQL full-text search.
CREATE TABLE kb_documents (
    document_id  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id   UUID REFERENCES companies(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    source_path  TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('markdown', 'text', 'html')),
    content_hash TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One document per source in a scope (NULL company = the shared library).
CREATE UNIQUE INDEX uq_kb_documents_source
    ON kb_documents (coalesce(company_id, '00000000-0000-0000-0000-000000000000'::uuid), source_path);

CREATE TABLE kb_passages (
    passage_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id   UUID NOT NULL REFERENCES kb_documents(document_id) ON DELETE CASCADE,
    passage_index INTEGER NOT NULL,
    heading       TEXT NOT NULL DEFAULT '',
    content       TEXT NOT NULL,
    search        TSVECTOR GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', coalesce(heading, '')), 'A') ||
                      setweight(to_tsvector('english', content), 'B')) STORED,
    UNIQUE (document_id, passage_index)
);
CREATE INDEX idx_kb_passages_search ON kb_passages USING GIN (search);

CREATE TRIGGER update_kb_documents_updated_at BEFORE UPDATE ON kb_documents
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- migrate:down
DROP TABLE IF EXISTS kb_passages, kb_documents;
