--
-- PostgreSQL database dump
--

\restrict zf5xQsZahJ2qXevnnMCtCXMMbQZf8lLRA40zvo7xkka6ZamH9cBg73Q80nQDabA

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: postgis; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: cameras; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cameras (
    image_id integer NOT NULL,
    model character varying(64),
    isd json NOT NULL
);


--
-- Name: crs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.crs (
    id integer NOT NULL,
    wkt_sha256 character varying(64) NOT NULL,
    wkt text NOT NULL,
    iau_code character varying(64),
    body character varying(64),
    srid integer
);
ALTER TABLE ONLY public.crs ALTER COLUMN wkt SET COMPRESSION lz4;


--
-- Name: crs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.crs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: crs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.crs_id_seq OWNED BY public.crs.id;


--
-- Name: images; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.images (
    id integer NOT NULL,
    name text NOT NULL,
    path text NOT NULL,
    checksum character varying(64) NOT NULL,
    size bigint NOT NULL,
    mtime double precision NOT NULL,
    driver character varying(32),
    width integer,
    height integer,
    bands integer,
    body character varying(64),
    iau_code character varying(64),
    srid integer,
    footprint public.geometry(MultiPolygon),
    footprint_source character varying(32),
    footprint_note text,
    camera json,
    keypoints_path text,
    n_keypoints integer,
    extractor character varying(16),
    extractor_params json,
    note text,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    spacecraft text,
    instrument text,
    product_id text,
    start_time timestamp with time zone,
    stop_time timestamp with time zone,
    target text,
    serial_number text,
    incidence double precision,
    emission double precision,
    phase double precision,
    resolution double precision,
    crs_id integer,
    attempts integer,
    worker text,
    job_seq bigint
);
ALTER TABLE ONLY public.images ALTER COLUMN name SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN path SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN footprint SET STORAGE EXTERNAL;
ALTER TABLE ONLY public.images ALTER COLUMN footprint_note SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN camera SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN keypoints_path SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN extractor_params SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN note SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN spacecraft SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN instrument SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN product_id SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN target SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN serial_number SET COMPRESSION lz4;
ALTER TABLE ONLY public.images ALTER COLUMN worker SET COMPRESSION lz4;


--
-- Name: footprints_mars; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.footprints_mars AS
 SELECT images.id,
    images.name,
    images.path,
    images.checksum,
    images.size,
    images.mtime,
    images.driver,
    images.width,
    images.height,
    images.bands,
    images.body,
    images.iau_code,
    images.srid,
    images.footprint_source,
    images.footprint_note,
    images.keypoints_path,
    images.n_keypoints,
    images.extractor,
    images.note,
    images.created_at,
    images.updated_at,
    images.spacecraft,
    images.instrument,
    images.product_id,
    images.start_time,
    images.stop_time,
    images.target,
    images.serial_number,
    images.incidence,
    images.emission,
    images.phase,
    images.resolution,
    images.crs_id,
    images.attempts,
    images.worker,
    images.job_seq,
    (images.footprint)::public.geometry(MultiPolygon,849900) AS footprint
   FROM public.images
  WHERE (images.srid = 849900);


--
-- Name: footprints_moon; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.footprints_moon AS
 SELECT images.id,
    images.name,
    images.path,
    images.checksum,
    images.size,
    images.mtime,
    images.driver,
    images.width,
    images.height,
    images.bands,
    images.body,
    images.iau_code,
    images.srid,
    images.footprint_source,
    images.footprint_note,
    images.keypoints_path,
    images.n_keypoints,
    images.extractor,
    images.note,
    images.created_at,
    images.updated_at,
    images.spacecraft,
    images.instrument,
    images.product_id,
    images.start_time,
    images.stop_time,
    images.target,
    images.serial_number,
    images.incidence,
    images.emission,
    images.phase,
    images.resolution,
    images.crs_id,
    images.attempts,
    images.worker,
    images.job_seq,
    (images.footprint)::public.geometry(MultiPolygon,830100) AS footprint
   FROM public.images
  WHERE (images.srid = 830100);


--
-- Name: images_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.images_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: images_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.images_id_seq OWNED BY public.images.id;


--
-- Name: job_clock; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_clock (
    id integer NOT NULL,
    seq bigint NOT NULL
);


--
-- Name: job_states; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_states (
    path text NOT NULL,
    state character varying(16) NOT NULL,
    attempts integer NOT NULL,
    error_kind character varying(32),
    error_type character varying(64),
    last_error text,
    traceback text,
    log text,
    size bigint,
    mtime double precision,
    worker text,
    updated_at timestamp with time zone DEFAULT now(),
    seq bigint NOT NULL
);
ALTER TABLE ONLY public.job_states ALTER COLUMN path SET COMPRESSION lz4;
ALTER TABLE ONLY public.job_states ALTER COLUMN last_error SET COMPRESSION lz4;
ALTER TABLE ONLY public.job_states ALTER COLUMN traceback SET COMPRESSION lz4;
ALTER TABLE ONLY public.job_states ALTER COLUMN log SET COMPRESSION lz4;
ALTER TABLE ONLY public.job_states ALTER COLUMN worker SET COMPRESSION lz4;


--
-- Name: jobs; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.jobs AS
 SELECT j.path,
    j.state,
    j.attempts,
    j.error_kind,
    j.error_type,
    j.last_error,
    j.traceback,
    j.log,
    j.size,
    j.mtime,
    j.worker,
    j.updated_at
   FROM public.job_states j
  WHERE (NOT (EXISTS ( SELECT 1
           FROM public.images i
          WHERE ((i.path = j.path) AND (COALESCE(i.job_seq, (0)::bigint) >= j.seq)))))
UNION ALL
 SELECT i.path,
    'done'::character varying AS state,
    COALESCE(i.attempts, 0) AS attempts,
    NULL::character varying AS error_kind,
    NULL::character varying AS error_type,
    NULL::text AS last_error,
    NULL::text AS traceback,
    NULL::text AS log,
    i.size,
    i.mtime,
    i.worker,
    i.updated_at
   FROM public.images i
  WHERE (NOT (EXISTS ( SELECT 1
           FROM public.job_states j
          WHERE ((j.path = i.path) AND (j.seq > COALESCE(i.job_seq, (0)::bigint))))));


--
-- Name: overlaps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public."overlaps" (
    image_a integer NOT NULL,
    image_b integer NOT NULL,
    body character varying(64),
    srid integer,
    area_m2 double precision NOT NULL,
    fraction_a double precision NOT NULL,
    fraction_b double precision NOT NULL,
    geom public.geometry(MultiPolygon)
);


--
-- Name: schema_info; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_info (
    version integer NOT NULL
);


--
-- Name: schema_info_version_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.schema_info_version_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: schema_info_version_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.schema_info_version_seq OWNED BY public.schema_info.version;


--
-- Name: crs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.crs ALTER COLUMN id SET DEFAULT nextval('public.crs_id_seq'::regclass);


--
-- Name: images id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images ALTER COLUMN id SET DEFAULT nextval('public.images_id_seq'::regclass);


--
-- Name: schema_info version; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_info ALTER COLUMN version SET DEFAULT nextval('public.schema_info_version_seq'::regclass);


--
-- Data for Name: cameras; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.cameras VALUES (2, 'USGS_ASTRO_FRAME_SENSOR_MODEL', '{"isis_camera_version": 1, "name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL", "name_platform": "APOLLO 15", "name_sensor": "APOLLO_METRIC", "image_lines": 500, "image_samples": 500, "radii": {"semimajor": 1737.4, "semiminor": 1737.4, "unit": "km"}, "reference_height": {"maxheight": 1000, "minheight": -1000, "unit": "m"}, "instrument_pointing": {"time_dependent_frames": [-915240, 1400015, 1], "ck_table_start_time": -896956456.5737045, "ck_table_end_time": -896956456.5737045, "ck_table_original_size": 1, "ephemeris_times": [-896956456.5737045], "quaternions": [[0.486932574804833, 0.32611335555125853, 0.7702068649851795, -0.25165081373747933]], "reference_frame": 1, "angular_velocities": [[0.00021555870650648946, 0.0005530375863674234, -0.0006868012863424683]], "constant_frames": [-915240], "constant_rotation": [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0]}, "instrument_position": {"spk_table_start_time": -896956456.5737045, "spk_table_end_time": -896956456.5737045, "spk_table_original_size": 1, "ephemeris_times": [-896956456.5737045], "positions": [[-1699.604948329023, -137.73023218546322, -734.1380985226283]], "reference_frame": 1, "velocities": [[-0.5137510220051307, 1.20836293326902, 0.9498180489347212]]}, "body_rotation": {"time_dependent_frames": [310002, 1], "constant_frames": [310001, 310003, 310000, 310002], "constant_rotation": [0.99999987852709, -0.000309789127116553, 0.000383375135592436, 0.000309789421617701, 0.999999952015, -7.08797549693787e-07, -0.000383374897618408, 8.27563025111877e-07, 0.9999999265115], "ck_table_start_time": -896956456.5737045, "ck_table_end_time": -896956456.5737045, "ck_table_original_size": 1, "ephemeris_times": [-896956456.5737045], "quaternions": [[0.8928458977139738, -0.1800569158740407, 0.07115967651538631, -0.40662268802845025]], "reference_frame": 1, "angular_velocities": [[5.0430157166234527e-08, -1.0117346507435724e-06, 2.46143909894084e-06]]}, "sun_position": {"spk_table_start_time": -896956456.5737045, "spk_table_end_time": -896956456.5737045, "spk_table_original_size": 1, "ephemeris_times": [-896956456.5737045], "positions": [[-92391536.32846282, 110619790.0638979, 48006721.65501952]], "reference_frame": 1, "velocities": [[-23.81533380091124, -15.96435002453969, -6.925508263968318]]}, "detector_sample_summing": 1, "detector_line_summing": 1, "focal_length_model": {"focal_length": 76.054}, "detector_center": {"line": 716.64371557336, "sample": 716.743865798698}, "focal2pixel_lines": [0.0, 0.0, -12.518778167250876], "focal2pixel_samples": [0.0, -12.518778167250876, -0.0], "optical_distortion": {"radial": {"coefficients": [0.0, 0.0, 0.0]}}, "starting_detector_line": 250.1251877816725, "starting_detector_sample": 500.50075112669003, "center_ephemeris_time": -896956456.5737045}');
INSERT INTO public.cameras VALUES (3, 'USGS_ASTRO_FRAME_SENSOR_MODEL', '{"isis_camera_version": 1, "name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL", "name_platform": "APOLLO 15", "name_sensor": "APOLLO_METRIC", "image_lines": 500, "image_samples": 500, "radii": {"semimajor": 1737.4, "semiminor": 1737.4, "unit": "km"}, "reference_height": {"maxheight": 1000, "minheight": -1000, "unit": "m"}, "instrument_pointing": {"time_dependent_frames": [-915240, 1400015, 1], "ck_table_start_time": -896956431.3597045, "ck_table_end_time": -896956431.3597045, "ck_table_original_size": 1, "ephemeris_times": [-896956431.3597045], "quaternions": [[0.49534217800587904, 0.3296552245439295, 0.764633741441485, -0.24758594683155963]], "reference_frame": 1, "angular_velocities": [[0.0001789871375017476, 0.0006267306429621035, -0.0005987730662053961]], "constant_frames": [-915240], "constant_rotation": [1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0]}, "instrument_position": {"spk_table_start_time": -896956431.3597045, "spk_table_end_time": -896956431.3597045, "spk_table_original_size": 1, "ephemeris_times": [-896956431.3597045], "positions": [[-1712.1434508035857, -107.23157941203266, -710.0123337849824]], "reference_frame": 1, "velocities": [[-0.4807772304768521, 1.210723191396502, 0.963784025489818]]}, "body_rotation": {"time_dependent_frames": [310002, 1], "constant_frames": [310001, 310003, 310000, 310002], "constant_rotation": [0.99999987852709, -0.000309789127116553, 0.000383375135592436, 0.000309789421617701, 0.999999952015, -7.08797549693787e-07, -0.000383374897618408, 8.27563025111877e-07, 0.9999999265115], "ck_table_start_time": -896956431.3597045, "ck_table_end_time": -896956431.3597045, "ck_table_original_size": 1, "ephemeris_times": [-896956431.3597045], "quaternions": [[0.8928322570425407, -0.18005450515431465, 0.07116573577849818, -0.4066526453978413]], "reference_frame": 1, "angular_velocities": [[5.043018235144479e-08, -1.0117346701553621e-06, 2.461439081605776e-06]]}, "sun_position": {"spk_table_start_time": -896956431.3597045, "spk_table_end_time": -896956431.3597045, "spk_table_original_size": 1, "ephemeris_times": [-896956431.3597045], "positions": [[-92392136.80774346, 110619387.5369687, 48006547.034390196]], "reference_frame": 1, "velocities": [[-23.815290530017165, -15.96449342940237, -6.92557680169542]]}, "detector_sample_summing": 1, "detector_line_summing": 1, "focal_length_model": {"focal_length": 76.054}, "detector_center": {"line": 716.64371557336, "sample": 716.743865798698}, "focal2pixel_lines": [0.0, 0.0, -12.518778167250876], "focal2pixel_samples": [0.0, -12.518778167250876, -0.0], "optical_distortion": {"radial": {"coefficients": [0.0, 0.0, 0.0]}}, "starting_detector_line": 312.71907861792687, "starting_detector_sample": 750.8763144717075, "center_ephemeris_time": -896956431.3597045}');


--
-- Data for Name: crs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.crs VALUES (1, '25dfe7c7a9f2d53b5f2a898659c0380488817f44c45ef8e211f6501533df98e1', 'PROJCS["Equirectangular MARS",GEOGCS["GCS_MARS",DATUM["unnamed",SPHEROID["unnamed",3396036.8126024,0]],PRIMEM["Reference meridian",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],PROJECTION["Equirectangular"],PARAMETER["latitude_of_origin",-5],PARAMETER["central_meridian",180],PARAMETER["standard_parallel_1",0],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]', 'IAU_2015:49900', 'Mars', 849900);


--
-- Data for Name: images; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.images VALUES (1, 'test.jp2', '/data/v6/test.jp2', '63fd54e25675ef45b7df552d807c47b0b6ef4b8f036cae01c820314aae53bb58', 2475835, 1796587897.2088943, 'JP2OpenJPEG', 2192, 775, 3, 'Mars', 'IAU_2015:49900', 849900, '0106000020ECF70C0001000000010300000001000000050000001B338A13673C55C04752D11C317E2AC0A758038EFE3C55C04752D11C317E2AC0A758038EFE3C55C00B987490DD7F2AC01B338A13673C55C00B987490DD7F2AC01B338A13673C55C04752D11C317E2AC0', 'georeference', 'traced on the validity mask read at 1/3 resolution', '{"type":"affine","transform":[0.25,0.0,5633625.875,0.0,-0.25,-488784.875],"width":2192,"height":775}', NULL, 1142, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 20:19:38.875585+00', '2026-12-06 20:19:38.875585+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.25, 1, 1, 'tcp://10.0.0.0:4000', 1);
INSERT INTO public.images VALUES (2, 'AS15-M-0297_crop.cub', '/data/v6/AS15-M-0297_crop.cub', 'c602259617a35d8634edb61b21aac1478153a4850e03070a531f7c2227543a5b', 1131517, 1796587897.2024403, 'ISIS3', 500, 500, 1, 'Moon', 'IAU_2015:30100', 830100, '010600002094AA0C0001000000010300000001000000120000003CC85337CF1B6240885950F675DE32C026604746CB0E6240B5CFCCB1EAC132C0AA3BE79D520B6240FF76BA4A902833C0015B1D7CC3076240C1C474C7CF8A33C0C03E2E89D0036240260DAB89F9E733C0C7D0ED03E8FF61408460BDA9CA4834C0DEEC04A0C6FB614035DFD91178AB34C0E8EEF42C83166240EFB8B47622E334C036949C9F003F6240C704FDFDF63735C05BB94514D94262404308927772D334C0A9E724D8B246624034D04AA88B6D34C08B7E0DC0414A62404FA19BA1110834C0B1D15D9C654E624053B2D4F07E9F33C0AB61B2CA1E52624025910B2DF93733C022775A395D446240EBB71396AF1E33C040DC0DCF5D366240DCB1E2319B0A33C012440AA7DF28624042DA4AFD26F632C03CC85337CF1B6240885950F675DE32C0', 'isis_polygon', 'the camera footprint agrees with the ISIS polygon to IoU 0.947', '{"type":"csm","model":"USGS_ASTRO_FRAME_SENSOR_MODEL","isd_source":"driver","isd_path":null,"driver":"apollo.ApolloMetric","ground_sample_distance_m":[125.90377408996468,126.54988045171027]}', NULL, 1958, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 20:19:38.875585+00', '2026-12-06 20:19:38.875585+00', 'APOLLO 15', 'METRIC', NULL, '1971-07-31 01:25:02.243+00', NULL, 'MOON', 'APOLLO15/METRIC/1971-07-31T01:25:02.243', 68.049824316066, 14.21598381676381, 64.94235136937333, 126.22682727083748, NULL, 2, 'tcp://10.0.0.1:4000', 2);
INSERT INTO public.images VALUES (3, 'AS15-M-0298_crop.cub', '/data/v6/AS15-M-0298_crop.cub', 'c67373a2076f77c67ff1e42693559002db171cd94a3c094e8f58cc2d42faac98', 1131517, 1796587897.2029545, 'ISIS3', 500, 500, 1, 'Moon', 'IAU_2015:30100', 830100, '010600002094AA0C0001000000010300000001000000140000005B264D42F21062402CA75894DE0633C0D637030AC2036240CAAF3B4462EE32C0C93FE76975FC6140FFA8F0901DB033C0FD4478ECE6F861401AFC81D7C80F34C01DC84E2234F56140930BB93F607234C07164D3C258F16140A69EB87AD8D534C0E57A7A396DFE61400BEBEC452BF134C0ED2F4E485D0B6240AFDBBA9CBE0B35C086A588930C186240F009F8AA682535C0E396FC46B0256240167EC8BDDB4235C02E45ECC063346240DE9CB297106335C016468781773862406182A847270035C0A9B269CE073D624085767240BF9B34C09439A9FAC3406240287BA461B13534C03F0A0B6B574562408E95A28ECFCD33C090D16299A5496240ED2F300D4B6433C085F44184A13A6240A5FE11399A4D33C086E7370ADE2B624025E2B7FC693833C0EEB15CB5A51E62404D597BA6E71C33C05B264D42F21062402CA75894DE0633C0', 'isis_polygon', 'the camera footprint agrees with the ISIS polygon to IoU 0.949', '{"type":"csm","model":"USGS_ASTRO_FRAME_SENSOR_MODEL","isd_source":"driver","isd_path":null,"driver":"apollo.ApolloMetric","ground_sample_distance_m":[127.2246421348898,126.75158030311131]}', NULL, 1628, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 20:19:38.875585+00', '2026-12-06 20:19:38.875585+00', 'APOLLO 15', 'METRIC', NULL, '1971-07-31 01:25:27.457+00', NULL, 'MOON', 'APOLLO15/METRIC/1971-07-31T01:25:27.457', 67.80420914955997, 20.372784828052747, 49.34562402734718, 126.98811121900056, NULL, 3, 'tcp://10.0.0.2:4000', 3);


--
-- Data for Name: job_clock; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.job_clock VALUES (1, 3);


--
-- Data for Name: job_states; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: overlaps; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public."overlaps" VALUES (2, 3, 'Moon', 830100, 2969239880.4132223, 0.7865023136936498, 0.7716895014838192, '010600002094AA0C000100000001030000000100000012000000E8EEF42C83166240EFB8B47622E334C0501F7462DE36624002348F84EC2635C016468781773862406182A847270035C0A9B269CE073D624085767240BF9B34C09439A9FAC3406240287BA461B13534C03F0A0B6B574562408E95A28ECFCD33C090D16299A5496240ED2F300D4B6433C085F44184A13A6240A5FE11399A4D33C086E7370ADE2B624025E2B7FC693833C0EEB15CB5A51E62404D597BA6E71C33C05B264D42F21062402CA75894DE0633C088DB9D23BA0C6240343FB73809FF32C0AA3BE79D520B6240FF76BA4A902833C0015B1D7CC3076240C1C474C7CF8A33C0C03E2E89D0036240260DAB89F9E733C0C7D0ED03E8FF61408460BDA9CA4834C0DEEC04A0C6FB614035DFD91178AB34C0E8EEF42C83166240EFB8B47622E334C0');


--
-- Data for Name: schema_info; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_info VALUES (6);


--
-- Data for Name: spatial_ref_sys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.spatial_ref_sys VALUES (849900, 'IAU_2015', 49900, 'GEOGCRS["Mars (2015) - Sphere / Ocentric",DATUM["Mars (2015) - Sphere",ELLIPSOID["Mars (2015) - Sphere",3396190,0,LENGTHUNIT["metre",1]],ANCHOR["Viking 1 lander: 47.95137 W"]],PRIMEM["Reference Meridian",0,ANGLEUNIT["degree",0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],ID["IAU",49900,2015],REMARK["Use semi-major radius as sphere for interoperability. Source of IAU Coordinate systems: https://doi.org/10.1007/s10569-017-9805-5"]]', '+proj=longlat +R=3396190 +no_defs +type=crs');
INSERT INTO public.spatial_ref_sys VALUES (830100, 'IAU_2015', 30100, 'GEOGCRS["Moon (2015) - Sphere / Ocentric",DATUM["Moon (2015) - Sphere",ELLIPSOID["Moon (2015) - Sphere",1737400,0,LENGTHUNIT["metre",1]]],PRIMEM["Reference Meridian",0,ANGLEUNIT["degree",0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],ID["IAU",30100,2015],REMARK["Source of IAU Coordinate systems: https://doi.org/10.1007/s10569-017-9805-5"]]', '+proj=longlat +R=1737400 +no_defs +type=crs');


--
-- Name: crs_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.crs_id_seq', 1, true);


--
-- Name: images_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.images_id_seq', 3, true);


--
-- Name: schema_info_version_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.schema_info_version_seq', 1, false);


--
-- Name: cameras cameras_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cameras
    ADD CONSTRAINT cameras_pkey PRIMARY KEY (image_id);


--
-- Name: crs crs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.crs
    ADD CONSTRAINT crs_pkey PRIMARY KEY (id);


--
-- Name: crs crs_wkt_sha256_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.crs
    ADD CONSTRAINT crs_wkt_sha256_key UNIQUE (wkt_sha256);


--
-- Name: images images_path_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_path_key UNIQUE (path);


--
-- Name: images images_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.images
    ADD CONSTRAINT images_pkey PRIMARY KEY (id);


--
-- Name: job_clock job_clock_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_clock
    ADD CONSTRAINT job_clock_pkey PRIMARY KEY (id);


--
-- Name: job_states job_states_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_states
    ADD CONSTRAINT job_states_pkey PRIMARY KEY (path);


--
-- Name: overlaps overlaps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public."overlaps"
    ADD CONSTRAINT overlaps_pkey PRIMARY KEY (image_a, image_b);


--
-- Name: schema_info schema_info_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_info
    ADD CONSTRAINT schema_info_pkey PRIMARY KEY (version);


--
-- Name: footprints_mars_gist; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX footprints_mars_gist ON public.images USING gist (((footprint)::public.geometry(MultiPolygon,849900))) WHERE (srid = 849900);


--
-- Name: footprints_moon_gist; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX footprints_moon_gist ON public.images USING gist (((footprint)::public.geometry(MultiPolygon,830100))) WHERE (srid = 830100);


--
-- Name: images_body; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_body ON public.images USING btree (body);


--
-- Name: images_footprint_gist; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_footprint_gist ON public.images USING gist (footprint);


--
-- Name: images_instrument_ci; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_instrument_ci ON public.images USING btree (lower(instrument));


--
-- Name: images_resolution; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_resolution ON public.images USING btree (resolution);


--
-- Name: images_spacecraft_ci; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_spacecraft_ci ON public.images USING btree (lower(spacecraft));


--
-- Name: images_srid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_srid ON public.images USING btree (srid);


--
-- Name: images_start_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX images_start_time ON public.images USING btree (start_time);


--
-- Name: ix_overlaps_image_b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_overlaps_image_b ON public."overlaps" USING btree (image_b);


--
-- Name: jobs_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_state ON public.job_states USING btree (state);


--
-- PostgreSQL database dump complete
--

\unrestrict zf5xQsZahJ2qXevnnMCtCXMMbQZf8lLRA40zvo7xkka6ZamH9cBg73Q80nQDabA

