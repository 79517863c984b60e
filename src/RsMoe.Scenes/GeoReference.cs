using ProjNet.CoordinateSystems;
using ProjNet.CoordinateSystems.Transformations;

namespace RsMoe.Scenes;

/// <summary>
/// Where a scene's pixels lie on the Earth: an affine map from pixel corners (column, row) to the coordinates of the
/// scene's CRS, and that CRS's EPSG code. Points are reprojected to WGS84 longitude/latitude with ProjNET.
/// </summary>
/// <param name="Affine">x = A[0]·col + A[1]·row + A[2]; y = A[3]·col + A[4]·row + A[5], for pixel-corner coordinates (the
/// top-left corner of the scene is (0, 0)).</param>
public sealed class GeoReference
{
    readonly double[] _affine;
    readonly MathTransform? _toWgs84;

    public int Epsg { get; }
    public string CrsName { get; }

    public GeoReference(double[] affine, int epsg)
    {
        if (affine.Length != 6 || affine.Any(v => !double.IsFinite(v)))
            throw new SceneRejectedException("the scene's georeferencing holds a value that is not a finite number");
        if (Math.Abs(affine[0] * affine[4] - affine[1] * affine[3]) < 1e-300)
            throw new SceneRejectedException("the scene's georeferencing maps pixels onto a line (its pixel size is zero)");
        _affine = affine;
        Epsg = epsg;
        var crs = CoordinateSystemOf(epsg);
        CrsName = $"EPSG:{epsg}";
        _toWgs84 = crs is null ? null : new CoordinateTransformationFactory().CreateFromCoordinateSystems(crs, GeographicCoordinateSystem.WGS84).MathTransform;
    }

    /// <summary>Whether the CRS is projected (metres), so that a pixel has an area on the ground.</summary>
    public bool IsProjected => Epsg != 4326;

    /// <summary>The ground area of one pixel in the CRS's units squared (m² for a projected CRS).</summary>
    public double PixelArea => Math.Abs(_affine[0] * _affine[4] - _affine[1] * _affine[3]);

    /// <summary>The CRS's coordinates of a pixel corner.</summary>
    public (double X, double Y) ToCrs(double column, double row) =>
        (_affine[0] * column + _affine[1] * row + _affine[2], _affine[3] * column + _affine[4] * row + _affine[5]);

    /// <summary>WGS84 longitude and latitude (degrees) of a pixel corner.</summary>
    public (double Longitude, double Latitude) ToWgs84(double column, double row)
    {
        var (x, y) = ToCrs(column, row);
        if (_toWgs84 is null) return (x, y);   // the scene's CRS is WGS84 itself
        var (lon, lat) = _toWgs84.Transform(x, y);
        return (lon, lat);
    }

    /// <summary>
    /// The EPSG codes read here, and what they become: WGS84 (4326; x is longitude), Web Mercator (3857) and the WGS84
    /// UTM zones (32601–32660 north, 32701–32760 south). ProjNET carries no EPSG registry; these are the CRSs aerial
    /// and satellite products are usually delivered in, and any other code is refused by name rather than guessed.
    /// </summary>
    static CoordinateSystem? CoordinateSystemOf(int epsg) => epsg switch
    {
        4326 => null,
        3857 => ProjectedCoordinateSystem.WebMercator,
        >= 32601 and <= 32660 => ProjectedCoordinateSystem.WGS84_UTM(epsg - 32600, true),
        >= 32701 and <= 32760 => ProjectedCoordinateSystem.WGS84_UTM(epsg - 32700, false),
        _ => throw new SceneRejectedException($"the scene's CRS EPSG:{epsg} is not supported (supported: EPSG:4326, EPSG:3857 and the WGS84 UTM zones EPSG:326xx/327xx); reproject it, or tile it in pixel coordinates"),
    };
}
