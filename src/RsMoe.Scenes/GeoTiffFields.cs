using BitMiracle.LibTiff.Classic;

namespace RsMoe.Scenes;

/// <summary>
/// Teaches LibTiff the GeoTIFF tags (it knows their numbers but not their types, so it would refuse to write them and
/// read them only as anonymous fields). Registered once per process as a tag extender, chained to any other.
/// </summary>
static class GeoTiffFields
{
    static readonly Lock Gate = new();
    static Tiff.TiffExtendProc? _parent;
    static bool _registered;

    static readonly TiffFieldInfo[] Fields =
    [
        new(TiffTag.GEOTIFF_MODELPIXELSCALETAG, -1, -1, TiffType.DOUBLE, FieldBit.Custom, true, true, "ModelPixelScale"),
        new(TiffTag.GEOTIFF_MODELTIEPOINTTAG, -1, -1, TiffType.DOUBLE, FieldBit.Custom, true, true, "ModelTiepoint"),
        new(TiffTag.GEOTIFF_MODELTRANSFORMATIONTAG, -1, -1, TiffType.DOUBLE, FieldBit.Custom, true, true, "ModelTransformation"),
        new(TiffTag.GEOTIFF_GEOKEYDIRECTORYTAG, -1, -1, TiffType.SHORT, FieldBit.Custom, true, true, "GeoKeyDirectory"),
        new(TiffTag.GEOTIFF_GEODOUBLEPARAMSTAG, -1, -1, TiffType.DOUBLE, FieldBit.Custom, true, true, "GeoDoubleParams"),
        new(TiffTag.GEOTIFF_GEOASCIIPARAMSTAG, -1, -1, TiffType.ASCII, FieldBit.Custom, true, false, "GeoAsciiParams"),
    ];

    /// <summary>Call before opening a TIFF whose GeoTIFF tags are read or written.</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered) return;
            _parent = Tiff.SetTagExtender(Extend);
            _registered = true;
        }
    }

    static void Extend(Tiff tiff)
    {
        tiff.MergeFieldInfo(Fields, Fields.Length);
        _parent?.Invoke(tiff);
    }
}
