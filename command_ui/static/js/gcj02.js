/**
 * WGS-84 → GCJ-02, the offset coordinate system that map tiles of China (AMap, Tianditu's GCJ-02 layers) are
 * drawn in. Our data is WGS-84 (GPS); over such tiles every layer is shifted by this transform or it lands
 * a few hundred metres off. The transform is the standard published one (Krasovsky ellipsoid, the usual
 * polynomial offsets) and, as the standard algorithm does, leaves points outside China's bounding box as
 * they are. tests/ui/test_gcj02.py checks it against reference points and a Python mirror.
 */

const A = 6378245.0; // semi-major axis of the Krasovsky 1940 ellipsoid the offset is defined on
const EE = 0.00669342162296594323; // its first eccentricity squared

/** Whether a point is outside the box the standard algorithm shifts (then it is left alone). */
export function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function offsetLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}

function offsetLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}

/**
 * Shift a WGS-84 point into GCJ-02.
 * @param {number} lon WGS-84 longitude, degrees
 * @param {number} lat WGS-84 latitude, degrees
 * @returns {[number, number]} [lon, lat] in GCJ-02 (unchanged outside China's box)
 */
export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (offsetLat(lon - 105.0, lat - 35.0) * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (offsetLon(lon - 105.0, lat - 35.0) * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}
