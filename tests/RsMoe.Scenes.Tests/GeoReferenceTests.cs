using RsMoe.Scenes;

namespace RsMoe.Scenes.Tests;

/// <summary>
/// Reprojection against PROJ 9.1.1: every expected longitude/latitude below was printed by
/// <c>cs2cs -f "%.9f" EPSG:xxxx EPSG:4326</c> for the CRS coordinates given (1e-7° is about 1 cm).
/// </summary>
public sealed class GeoReferenceTests
{
    const double Tolerance = 1e-7;

    static GeoReference NorthUp(double left, double top, double pixel, int epsg) => new([pixel, 0, left, 0, -pixel, top], epsg);

    [Theory]
    [InlineData(32611, 500000, 4000000, -117.000000000, 36.144718099)]
    [InlineData(32611, 512800, 4012800, -116.857509963, 36.260033408)]
    [InlineData(32611, 400000, 3500000, -118.054471186, 31.630831797)]
    [InlineData(32733, 500000, 4000000, 15.000000000, -54.148104104)]
    [InlineData(3857, 1000000, 6000000, 8.983152841, 47.353704702)]
    [InlineData(4326, 8.5, 47.25, 8.5, 47.25)]
    public void ACrsPointReprojectsToWhatProjGives(int epsg, double x, double y, double longitude, double latitude)
    {
        var geo = NorthUp(x, y, 1, epsg);
        var (lon, lat) = geo.ToWgs84(0, 0);
        Assert.Equal(longitude, lon, Tolerance);
        Assert.Equal(latitude, lat, Tolerance);
    }

    [Fact]
    public void PixelCornersMapThroughTheAffineAndAPixelHasItsGroundArea()
    {
        var geo = NorthUp(500000, 4000000, 0.3, 32611);
        Assert.Equal((500307.2, 3999769.6), Round(geo.ToCrs(1024, 768)));
        var (lon, lat) = geo.ToWgs84(1024, 768);
        Assert.Equal(-116.996585340, lon, Tolerance);
        Assert.Equal(36.142640826, lat, Tolerance);
        Assert.Equal(0.09, geo.PixelArea, 1e-12);
        Assert.True(geo.IsProjected);
        Assert.False(NorthUp(8, 47, 1e-5, 4326).IsProjected);
    }

    [Fact]
    public void AnUnsupportedOrDegenerateGeoreferencingIsRefusedByName()
    {
        Assert.Contains("EPSG:2154 is not supported", Assert.Throws<SceneRejectedException>(() => NorthUp(0, 0, 1, 2154)).Message);
        Assert.Contains("pixel size is zero", Assert.Throws<SceneRejectedException>(() => NorthUp(0, 0, 0, 32611)).Message);
        Assert.Contains("finite", Assert.Throws<SceneRejectedException>(() => new GeoReference([double.NaN, 0, 0, 0, -1, 0], 32611)).Message);
    }

    static (double, double) Round((double X, double Y) p) => (Math.Round(p.X, 6), Math.Round(p.Y, 6));
}
