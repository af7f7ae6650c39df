// The copies devarno-landing ships with its build (MOCK_ARTICLES and the static org list),
// shown when V01T cannot answer. They are a snapshot: always flagged as stale when used.

export const STATIC_ARTICLES = [
  {
    title: 'Contract-First APIs with Protobuf and Buf',
    slug: 'contract-first-apis-protobuf-buf',
    excerpt: 'One schema, generated clients and breaking-change checks before anything ships.',
    publishedAt: '2026-02-02T09:00:00.000Z',
    readTime: '12min',
    status: 'published',
  },
  {
    title: 'One CMS, Many Small Apps: Designing V01T',
    slug: 'one-cms-many-small-apps-designing-v01t',
    excerpt: 'How a single headless CMS feeds dashboards, blogs and admin tools without a deploy per change.',
    publishedAt: '2026-03-02T09:00:00.000Z',
    readTime: '10min',
    status: 'draft',
  },
  {
    title: 'Building Skyflow: Event-Driven Workflows Without the Pain',
    slug: 'building-skyflow-event-driven-workflows',
    excerpt: 'What we learned making every workflow step durable, retryable and observable in Skyflow.',
    publishedAt: '2026-01-14T09:00:00.000Z',
    readTime: '15min',
    status: 'published',
  },
  {
    title: 'Running a Family Hub on a Shoestring',
    slug: 'running-a-family-hub-on-a-shoestring',
    excerpt: 'Chat, photos and sign-in for one household for the price of a coffee a month.',
    publishedAt: '2025-11-20T09:00:00.000Z',
    readTime: '8min',
    status: 'published',
  },
]

export const STATIC_ORGS = [
  {
    title: 'devarno-cloud',
    slug: 'devarno-cloud',
    status: 'active',
    description: 'Platform home of the devarno ecosystem, shared infrastructure and the landing site.',
  },
  {
    title: 'sparki-tools',
    slug: 'sparki-tools',
    status: 'active',
    description: 'Small, sharp command-line tools for everyday developer chores.',
  },
  {
    title: 'skyflow',
    slug: 'skyflow',
    status: 'active',
    description: 'Event-driven workflow engine with durable steps and retries.',
  },
  {
    title: 'v01t',
    slug: 'v01t',
    status: 'active',
    description: 'Headless CMS serving structured content to every devarno app.',
  },
  {
    title: 'casa-family-hub',
    slug: 'casa-family-hub',
    status: 'active',
    description: 'Private family hub with chat, shared media and household planning.',
  },
  {
    title: 'flight-path',
    slug: 'flight-path',
    status: 'active',
    description: 'Writing on engineering practice, drafted in Notion and served through V01T.',
  },
  {
    title: 'devarno-labs',
    slug: 'devarno-labs',
    status: 'active',
    description: 'Experiments and prototypes before they earn an org of their own.',
  },
  {
    title: 'proto-forge',
    slug: 'proto-forge',
    status: 'active',
    description: 'Shared protobuf contracts and the codegen that keeps clients honest.',
  },
  {
    title: 'relay-mesh',
    slug: 'relay-mesh',
    status: 'active',
    description: 'Realtime messaging fabric behind chat, presence and typing indicators.',
  },
  {
    title: 'pixel-vault',
    slug: 'pixel-vault',
    status: 'active',
    description: 'Content-addressed media storage with on-the-fly thumbnails.',
  },
  {
    title: 'trace-lens',
    slug: 'trace-lens',
    status: 'active',
    description: 'Observability kit with request-id propagation and tracing dashboards.',
  },
  {
    title: 'gatekeep-auth',
    slug: 'gatekeep-auth',
    status: 'active',
    description: 'Authentication and session services shared across the ecosystem.',
  },
  {
    title: 'orbit-ui',
    slug: 'orbit-ui',
    status: 'active',
    description: 'Design system and component library used by every devarno frontend.',
  },
  {
    title: 'nimbus-deploy',
    slug: 'nimbus-deploy',
    status: 'archived',
    description: 'The first deployment pipeline, retired in favour of platform-infra.',
  },
  {
    title: 'quill-notes',
    slug: 'quill-notes',
    status: 'archived',
    description: 'Markdown note-taking app, folded into flight-path.',
  },
  {
    title: 'loom-data',
    slug: 'loom-data',
    status: 'planned',
    description: 'Planned analytics warehouse for product metrics across apps.',
  },
  {
    title: 'echo-voice',
    slug: 'echo-voice',
    status: 'planned',
    description: 'Planned voice notes and calls for the family hub.',
  },
  {
    title: 'harbor-edge',
    slug: 'harbor-edge',
    status: 'planned',
    description: 'Planned edge cache and image CDN in front of the public sites.',
  },
]
