--
-- PostgreSQL database dump
--

\restrict J8iTjNR1i3DaG28XqIdgLsfsTcibGQTJO8HSUvYQCBrzneStb7miKu9cf7NUW2c

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
-- Data for Name: crs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.crs VALUES (1, '25dfe7c7a9f2d53b5f2a898659c0380488817f44c45ef8e211f6501533df98e1', 'PROJCS["Equirectangular MARS",GEOGCS["GCS_MARS",DATUM["unnamed",SPHEROID["unnamed",3396036.8126024,0]],PRIMEM["Reference meridian",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],PROJECTION["Equirectangular"],PARAMETER["latitude_of_origin",-5],PARAMETER["central_meridian",180],PARAMETER["standard_parallel_1",0],PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH]]', 'IAU_2015:49900', 'Mars', 849900);


--
-- Data for Name: images; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.images VALUES (1, 'test.jp2', '/data/v5/test.jp2', '63fd54e25675ef45b7df552d807c47b0b6ef4b8f036cae01c820314aae53bb58', 2475835, 1796577629.2593918, 'JP2OpenJPEG', 2192, 775, 3, 'Mars', 'IAU_2015:49900', 849900, '0106000020ECF70C0001000000010300000001000000050000001B338A13673C55C04752D11C317E2AC0A758038EFE3C55C04752D11C317E2AC0A758038EFE3C55C00B987490DD7F2AC01B338A13673C55C00B987490DD7F2AC01B338A13673C55C04752D11C317E2AC0', 'georeference', 'traced on the validity mask read at 1/3 resolution', '{"type":"affine","transform":[0.25,0.0,5633625.875,0.0,-0.25,-488784.875],"width":2192,"height":775}', NULL, 1142, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 17:51:57.717209+00', '2026-12-06 17:51:57.717209+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.25, 1, 1, 'tcp://10.0.0.0:4000', 2);
INSERT INTO public.images VALUES (2, 'AS15-M-0297_crop.cub', '/data/v5/AS15-M-0297_crop.cub', 'c602259617a35d8634edb61b21aac1478153a4850e03070a531f7c2227543a5b', 1131517, 1796577629.2534335, 'ISIS3', 500, 500, 1, 'Moon', 'IAU_2015:30100', 830100, '010600002094AA0C0001000000010300000001000000120000003CC85337CF1B6240885950F675DE32C026604746CB0E6240B5CFCCB1EAC132C0AA3BE79D520B6240FF76BA4A902833C0015B1D7CC3076240C1C474C7CF8A33C0C03E2E89D0036240260DAB89F9E733C0C7D0ED03E8FF61408460BDA9CA4834C0DEEC04A0C6FB614035DFD91178AB34C0E8EEF42C83166240EFB8B47622E334C036949C9F003F6240C704FDFDF63735C05BB94514D94262404308927772D334C0A9E724D8B246624034D04AA88B6D34C08B7E0DC0414A62404FA19BA1110834C0B1D15D9C654E624053B2D4F07E9F33C0AB61B2CA1E52624025910B2DF93733C022775A395D446240EBB71396AF1E33C040DC0DCF5D366240DCB1E2319B0A33C012440AA7DF28624042DA4AFD26F632C03CC85337CF1B6240885950F675DE32C0', 'isis_polygon', 'the camera footprint agrees with the ISIS polygon to IoU 0.949', '{"type":"framing","name_model":"USGS_ASTRO_FRAME_SENSOR_MODEL","name_platform":"APOLLO 15","name_sensor":"METRIC","naif_ik_code":-915240,"image_lines":500,"image_samples":500,"focal_length_model":{"focal_length":76.054},"focal_plane_z":-1.0,"pixel2focal_x":[0.0,-0.005,0.0],"pixel2focal_y":[0.0,0.0,0.005],"focal2pixel_samples":[0.0,-200.0,0.0],"focal2pixel_lines":[0.0,0.0,200.0],"radii":{"semimajor":1737.4,"semiminor":1737.4,"unit":"km"},"instrument_pointing":{"time_dependent_frames":[-915240,1400015,1],"reference_frame":1,"ephemeris_times":[-896956456.5737045],"quaternions":[[0.32611335555125853,0.7702068649851795,-0.25165081373747933,0.486932574804833]],"angular_velocities":[[0.00021555870650648946,0.0005530375863674234,-0.0006868012863424683]]},"instrument_position":{"reference_frame":1,"unit":"km","ephemeris_times":[-896956456.5737045],"positions":[[-1699.604948329023,-137.73023218546322,-734.1380985226283]],"velocities":[[-0.5137510220051307,1.20836293326902,0.9498180489347212]],"interpolation":"linear"},"body_rotation":{"time_dependent_frames":[310002,1],"reference_frame":1,"constant_frames":[310001,310003,310000,310002],"constant_rotation":[0.99999987852709,-0.000309789127116553,0.000383375135592436,0.000309789421617701,0.999999952015,-7.08797549693787e-07,-0.000383374897618408,8.27563025111877e-07,0.9999999265115],"ephemeris_times":[-896956456.5737045],"quaternions":[[-0.1800569158740407,0.07115967651538631,-0.40662268802845025,0.8928458977139738]],"angular_velocities":[[5.0430157166234527e-08,-1.0117346507435724e-06,2.46143909894084e-06]]},"sun_position":{"reference_frame":1,"unit":"km","ephemeris_times":[-896956456.5737045],"positions":[[-92391536.32846282,110619790.0638979,48006721.65501952]],"velocities":[[-23.81533380091124,-15.96435002453969,-6.925508263968318]],"interpolation":"linear"},"alpha_cube":{"samples":22900.0,"lines":22900.0,"starting_sample":7996.5,"starting_line":3996.5,"ending_sample":15984.5,"ending_line":11984.5,"beta_samples":500.0,"beta_lines":500.0},"detector_center":{"sample":11450.0,"line":11450.0},"optical_distortion":{"apollo_metric":{"xp":-0.006,"yp":-0.002,"k1":-1.3361854e-06,"k2":5.2261757e-10,"k3":-5.0728336e-14,"j1":-5.4958195e-07,"j2":-4.608942e-11,"t0":2.965907}},"center_ephemeris_time":-896956456.5737045,"ground_sample_distance_m":[125.46244889410796,126.01754324323345]}', NULL, 1958, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 17:51:57.717209+00', '2026-12-06 17:51:57.717209+00', 'APOLLO 15', 'METRIC', NULL, '1971-07-31 01:25:02.243+00', NULL, 'MOON', 'APOLLO15/METRIC/1971-07-31T01:25:02.243', 68.04973263348357, 14.210990165445795, 64.94313034273254, 125.7399960686707, NULL, 2, 'tcp://10.0.0.1:4000', 3);
INSERT INTO public.images VALUES (3, 'M143947267L.cal.echo.crop.cub', '/data/v5/M143947267L.cal.echo.crop.cub', '7ca7a5220faa467bd74929a500c170b596a85545c1f33e811cb82e4a134c489a', 720188, 1796577629.2553077, 'ISIS3', 400, 400, 1, 'Moon', 'IAU_2015:30100', 830100, '010600002094AA0C0001000000010300000001000000050000000538BA72CCA65940D7AE5971F5FC4140E59F3AC7C9A65940CC363309F2FD41405A74E0C533A65940AD1EC798EEFD41404BFD187436A65940BB4AF600F2FC41400538BA72CCA65940D7AE5971F5FC4140', 'camera', NULL, '{"type":"line_scan","name_model":"USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL","name_platform":"LUNAR RECONNAISSANCE ORBITER","name_sensor":"NACL","naif_ik_code":-85600,"image_lines":400,"image_samples":400,"focal_length_model":{"focal_length":699.62},"focal_plane_z":1.0,"pixel2focal_x":[0.0,0.0,0.007],"pixel2focal_y":[0.0,0.007,0.0],"focal2pixel_samples":[0.0,0.0,142.857],"focal2pixel_lines":[0.0,142.857,0.0],"radii":{"semimajor":1737.4,"semiminor":1737.4,"unit":"km"},"instrument_pointing":{"time_dependent_frames":[-85600,-85000,1],"reference_frame":1,"ephemeris_times":[342580072.37562287,342580072.44676554,342580072.6470596,342580072.74045724],"quaternions":[[-0.07873099051693938,-0.8870736186901954,-0.122755815286484,0.4379872554874791],[-0.07873954548944724,-0.8870592636484899,-0.12275573628504514,0.43801481248997803],[-0.07876541393402199,-0.8870178402587954,-0.12275524282906616,0.43809418050049626],[-0.07877729095434209,-0.8869985850166554,-0.12275597223064119,0.4381308250854488]],"angular_velocities":[[9.52474829617297e-05,-0.0008457575325333905,-0.0003540727648795964],[9.711797632971981e-05,-0.0008520923937346556,-0.0003611640601864231],[0.00011405526018481028,-0.0008467298968546588,-0.00034754515029251616],[0.00010983105548732835,-0.0008524266648528991,-0.00034572574759247974]]},"instrument_position":{"reference_frame":1,"unit":"km","ephemeris_times":[342580072.37562287,342580072.55804,342580072.74045724],"positions":[[-1414.9420694898208,-557.4799391813236,947.6079267648201],[-1415.1255274156308,-557.4071987969428,947.3801503294266],[-1415.3089452815302,-557.3344425828137,947.1523469456805]],"velocities":[[-1.0058154054016082,0.3987151371939384,-1.2485832108803847],[-1.0055954849177215,0.39880179024100687,-1.248730550052941],[-1.0053755362290973,0.39888843203286783,-1.2488778533279465]],"interpolation":"hermite"},"body_rotation":{"time_dependent_frames":[31006,1],"reference_frame":1,"constant_frames":[31001,31007,31006],"constant_rotation":[0.99999987325471,-0.000329285422375571,0.000380869618671387,0.000329286000210947,0.99999994578431,-1.45444093783627e-06,-0.000380869119096078,1.57985578682691e-06,0.99999992746811],"ephemeris_times":[342580072.37562287,342580072.74045724],"quaternions":[[-0.1597965277633099,0.12430505778590463,-0.6521533078334136,0.7305541632251297],[-0.15979646751597076,0.1243051353595913,-0.6521536625541333,0.7305538465506021]],"angular_velocities":[[7.173611160298975e-08,-1.052585178086765e-06,2.443727489840882e-06],[7.173611164616041e-08,-1.0525851781634362e-06,2.44372749001336e-06]]},"sun_position":{"reference_frame":1,"unit":"km","ephemeris_times":[342580072.37562287,342580072.74045724],"positions":[[-101303881.1526591,-98869860.33301304,-42859307.330293804],[-101303873.41136897,-98869867.07545826,-42859310.289062314]],"velocities":[[21.218642035106402,-18.480839296583177,-8.109895356812117],[21.21864354321976,-18.48083871641466,-8.10989511197357]],"interpolation":"linear"},"alpha_cube":{"samples":5064.0,"lines":52224.0,"starting_sample":2999.5,"starting_line":15999.5,"ending_sample":3399.5,"ending_line":16399.5,"beta_samples":400.0,"beta_lines":400.0},"center_ephemeris_time":342580076.0651931,"starting_ephemeris_time":342580066.5386373,"line_scan_rate":[[0.5,-9.526555836200714,0.00036483440000000005]],"detector_center":{"sample":2548.0,"line":0.0},"detector_sample_summing":1.0,"starting_detector_sample":1.0,"optical_distortion":{"lro_nac":{"coefficients":[1.81e-05]}},"ground_sample_distance_m":[0.5616735741873836,0.5842431615695419]}', NULL, 962, 'sift', '{"method":"sift","max_features":2000,"tile_size":1024,"tile_overlap":32,"downsample":1,"parameters":{}}', NULL, '2026-12-06 17:51:57.717209+00', '2026-12-06 17:51:57.717209+00', 'LUNAR RECONNAISSANCE ORBITER', 'NACL', 'M143947267LE', '2010-11-09 13:06:40.356+00', '2010-11-09 13:06:59.409+00', 'MOON', 'LRO/1/311000800:22516/NACL', 53.199874139380796, 9.809731143087271, 61.31692131181554, 0.5729583678784628, NULL, 3, 'tcp://10.0.0.2:4000', 4);


--
-- Data for Name: job_clock; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.job_clock VALUES (1, 4);


--
-- Data for Name: job_states; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.job_states VALUES ('/data/v5/later.cub', 'queued', 0, NULL, NULL, NULL, NULL, NULL, 11, 2, NULL, '2026-12-06 17:51:57.717209+00', 1);


--
-- Data for Name: schema_info; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_info VALUES (5);


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
-- Name: jobs_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_state ON public.job_states USING btree (state);


--
-- PostgreSQL database dump complete
--

\unrestrict J8iTjNR1i3DaG28XqIdgLsfsTcibGQTJO8HSUvYQCBrzneStb7miKu9cf7NUW2c

