using BitMiracle.LibTiff.Classic;

namespace RsMoe.Scenes;

/// <summary>
/// Reads a GeoTIFF's georeferencing from its tags (GeoTIFF 1.1, OGC 19-008r4): ModelTransformation, or ModelTiepoint with
/// ModelPixelScale; the CRS's EPSG code from the GeoKeyDirectory (ProjectedCRS, else GeographicCRS); the raster type
/// (a point tie-point refers to the pixel's centre). Only the header is read, never a pixel.
/// </summary>
public static class GeoTiffTags
{
    const ushort GTModelType = 1024, GTRasterType = 1025, GeographicType = 2048, ProjectedCSType = 3072;
    const int RasterPixelIsPoint = 2, UserDefined = 32767;

    /// <summary>A TIFF file's georeferencing, or null when it has none (the caller has sniffed the format).</summary>
    public static GeoReference? Read(string path)
    {
        GeoTiffFields.Register();
        Tiff.SetErrorHandler(QuietErrors.Instance);
        using var tiff = Tiff.Open(path, "r") ?? throw new SceneRejectedException("the TIFF's header cannot be read: the file is truncated or not a TIFF");
        double[]? transformation = Doubles(tiff, TiffTag.GEOTIFF_MODELTRANSFORMATIONTAG);
        double[]? tiepoints = Doubles(tiff, TiffTag.GEOTIFF_MODELTIEPOINTTAG);
        double[]? scale = Doubles(tiff, TiffTag.GEOTIFF_MODELPIXELSCALETAG);
        if (transformation is null && tiepoints is null) return null;

        var keys = GeoKeys(tiff);
        int epsg = keys.TryGetValue(ProjectedCSType, out var projected) ? projected
            : keys.TryGetValue(GeographicType, out var geographic) ? geographic
            : throw new SceneRejectedException("the GeoTIFF names no CRS: its GeoKeyDirectory has neither a ProjectedCRS nor a GeographicCRS key");
        if (epsg == UserDefined) throw new SceneRejectedException("the GeoTIFF's CRS is user-defined (no EPSG code); reproject it to an EPSG CRS first");
        if (keys.GetValueOrDefault(GTModelType) == 3) throw new SceneRejectedException("the GeoTIFF is in a geocentric model space, which a map of tiles cannot use");

        double[] affine;
        if (transformation is not null)
        {
            if (transformation.Length != 16) throw new SceneRejectedException($"the GeoTIFF's ModelTransformation holds {transformation.Length} values, not 16");
            affine = [transformation[0], transformation[1], transformation[3], transformation[4], transformation[5], transformation[7]];
        }
        else
        {
            if (tiepoints!.Length < 6 || tiepoints.Length % 6 != 0) throw new SceneRejectedException($"the GeoTIFF's ModelTiepoint holds {tiepoints.Length} values, not a multiple of 6");
            if (tiepoints.Length > 6) throw new SceneRejectedException($"the GeoTIFF has {tiepoints.Length / 6} tie-points (a warped grid); only one tie-point with a pixel scale is read");
            if (scale is null || scale.Length < 2) throw new SceneRejectedException("the GeoTIFF has a tie-point but no ModelPixelScale");
            var (i, j, x, y) = (tiepoints[0], tiepoints[1], tiepoints[3], tiepoints[4]);
            affine = [scale[0], 0, x - i * scale[0], 0, -scale[1], y + j * scale[1]];
        }
        if (keys.GetValueOrDefault(GTRasterType) == RasterPixelIsPoint)
        {
            // The tie-point names a pixel's centre: the corner (0, 0) lies half a pixel up and left of it.
            affine[2] -= 0.5 * (affine[0] + affine[1]);
            affine[5] -= 0.5 * (affine[3] + affine[4]);
        }
        return new GeoReference(affine, epsg);
    }

    static double[]? Doubles(Tiff tiff, TiffTag tag)
    {
        var field = tiff.GetField(tag);
        if (field is null || field.Length < 2) return null;
        try { return field[1].ToDoubleArray(); }
        catch (Exception e) when (e is InvalidCastException or ArgumentException or IndexOutOfRangeException)
        {
            throw new SceneRejectedException($"the GeoTIFF's {tag} tag does not hold numbers", e);
        }
    }

    /// <summary>The GeoKeyDirectory's short-valued keys (those stored in the directory itself).</summary>
    static Dictionary<ushort, int> GeoKeys(Tiff tiff)
    {
        var keys = new Dictionary<ushort, int>();
        var field = tiff.GetField(TiffTag.GEOTIFF_GEOKEYDIRECTORYTAG);
        if (field is null || field.Length < 2) return keys;
        short[] directory = field[1].ToShortArray();
        if (directory.Length < 4) throw new SceneRejectedException("the GeoTIFF's GeoKeyDirectory is shorter than its header");
        int count = (ushort)directory[3];
        if (directory.Length < 4 + 4 * count) throw new SceneRejectedException($"the GeoTIFF's GeoKeyDirectory claims {count} keys but holds {(directory.Length - 4) / 4}");
        for (int k = 0; k < count; k++)
        {
            int at = 4 + 4 * k;
            if (directory[at + 1] == 0) keys[(ushort)directory[at]] = (ushort)directory[at + 3];
        }
        return keys;
    }

    /// <summary>LibTiff writes warnings and errors to the console by default; here they surface as exceptions or nothing.</summary>
    sealed class QuietErrors : TiffErrorHandler
    {
        public static readonly QuietErrors Instance = new();
        public override void WarningHandler(Tiff tif, string method, string format, params object[] args) { }
        public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }
        public override void ErrorHandler(Tiff tif, string method, string format, params object[] args) { }
        public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args) { }
    }
}
